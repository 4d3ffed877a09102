# SPDX-License-Identifier: Apache-2.0
"""Failure isolation and explanation: a bad identity is set aside while the rest land in the same round, a
throttled scale set waits out its Retry-After without holding up the others, a failed long-running update is
retried and never reported as Assigned (issue 7, "Failure isolation", "Explains itself")."""
from __future__ import annotations

import json
import uuid

from podid_harness.azure.faults import json_bytes
from podid_harness.controller_cluster import MI_OPERATOR, NODE_RG, wait_for

from helpers import StateRecorder, bound_identity, conditions, on_compute, settle, wait_event


def _mentions_fix(text: str, scope: str, principal: tuple[str, str]) -> bool:
    """Names the role, the scope, the principal (object or client id) and the command that grants it."""
    low = text.lower()
    return (MI_OPERATOR.lower() in low and scope.lower() in low and "az role assignment create" in low
            and any(p.lower() in low for p in principal))


def test_identity_missing_its_role_is_set_aside_while_nine_land(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=2)
    good = [bound_identity(c, "shop", f"good-{i}") for i in range(9)]
    bad = bound_identity(c, "shop", "norole", grant_operator=False)
    pods = [c.add_pod("shop", f"{ident.name}-pod", pool.nodes[i % 2], selector=ident.name)
            for i, ident in enumerate(good + [bad])]
    c.wait_assigned(*pods[:9], timeout=30)
    assert all(on_compute(c, pool, g) for g in good)
    assert not on_compute(c, pool, bad)
    assert c.aai_state(c.aai(pods[9], bad)) in ("Created", None)

    # Said where users look: an Event and a condition naming the role, the scope, the principal and the fix.
    wait_event(c, lambda e: (e.get("involvedObject") or e.get("regarding") or {}).get("name") in
               ("norole", "norole-binding") and _mentions_fix(e.get("message") or e.get("note") or "",
                                                              bad.resource_id, (c.principal_id, c.client_id)),
               15, "an Event on the AzureIdentity or binding naming the role, scope and fix")
    wait_for(lambda: [x for x in conditions(c.identity_cr(bad))
                      if _mentions_fix(json.dumps(x), bad.resource_id, (c.principal_id, c.client_id))], 15,
             "a condition on the AzureIdentity naming the role, scope and fix",
             diagnose=lambda: json.dumps(c.identity_cr(bad).get("status")))
    assert not [x for g in good for x in conditions(c.identity_cr(g))
                if MI_OPERATOR.lower() in json.dumps(x).lower()], "good identities blamed"

    # The role granted: the set-aside identity is retried (with backoff) and lands.
    c.grant(MI_OPERATOR, bad.resource_id)
    c.wait_assigned(pods[9], timeout=30)
    assert on_compute(c, pool, bad)


def test_throttled_scale_set_waits_its_retry_after_while_another_proceeds(cluster, controller):
    c = cluster
    a = c.add_scale_set(NODE_RG, "aks-poola", nodes=1)
    b = c.add_scale_set(NODE_RG, "aks-poolb", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    retry_after = 6
    fault = c.arm.faults.add(429, retry_after=retry_after, count=1,
                             path_regex=r"(?i)/virtualMachineScaleSets/aks-poola\?",
                             body=json_bytes({"error": {"code": "TooManyRequests", "message":
                                                        "The request is being throttled."}}))
    pa = c.add_pod("shop", "a-0", a.nodes[0], selector="web")
    pb = c.add_pod("shop", "b-0", b.nodes[0], selector="web")
    c.wait_assigned(pb, timeout=retry_after - 1)                 # b does not wait for a's Retry-After
    assert fault.hits == 1
    assert c.aai_state(c.aai(pa, web)) != "Assigned"
    c.wait_assigned(pa, timeout=retry_after + 20)
    calls_a = [e for e in c.arm.log.entries(r"(?i)/virtualMachineScaleSets/aks-poola\?")]
    assert calls_a[0].status == 429
    assert calls_a[1].t - calls_a[0].t >= retry_after - 0.5, \
        f"retried {calls_a[1].t - calls_a[0].t:.2f}s after a 429 with Retry-After: {retry_after}"
    assert c.metric("podid_controller_arm_throttled_total") >= 1


def test_failed_async_operation_is_retried_and_not_reported_assigned(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    failed = json_bytes({"startTime": "2024-01-01T00:00:00+00:00", "endTime": "2024-01-01T00:00:01+00:00",
                         "status": "Failed", "name": "op",
                         "error": {"code": "InternalExecutionError",
                                   "message": "An internal execution error occurred. Please retry later."}})
    fault = c.arm.faults.add(200, count=1, path_regex=r"/operations/", body=failed)
    # Azure rolls a failed update back: the identity is not on the scale set after it.
    take = c.arm.faults.take

    def take_and_roll_back(req):
        f = take(req)
        if f is fault:
            c.cloud.unassign_identity(pool.resource_id, web.resource_id)
            for op in c.arm.operations.values():
                op.status = "Failed" if op.status == "InProgress" else op.status
            pool.compute.provisioning_state = "Failed"
        return f
    c.arm.faults.take = take_and_roll_back

    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    with StateRecorder(c, [(pod, web)]) as rec:
        c.wait_assigned(pod, timeout=40)
    assert fault.hits == 1
    patches = c.arm_calls("PATCH vmss", pool)
    assert len(patches) == 2, [p.t for p in patches]
    assigned_at = rec.first(c.aai_name(pod, web), "Assigned")
    assert assigned_at is not None and assigned_at > patches[1].t, "Assigned after a failed update"
    assert on_compute(c, pool, web)


def test_identity_deleted_in_azure_is_isolated(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    ok = bound_identity(c, "shop", "ok-id")
    gone = bound_identity(c, "shop", "gone-id")
    c.cloud.delete_identity(gone.resource_id)
    p_ok = c.add_pod("shop", "ok-0", pool.nodes[0], selector="ok-id")
    p_gone = c.add_pod("shop", "gone-0", pool.nodes[0], selector="gone-id")
    c.wait_assigned(p_ok, timeout=30)
    assert on_compute(c, pool, ok) and not on_compute(c, pool, gone)
    wait_event(c, lambda e: (e.get("involvedObject") or e.get("regarding") or {}).get("name") in
               ("gone-id", "gone-id-binding") and any(
                   s in (e.get("message") or e.get("note") or "").lower()
                   for s in (gone.resource_id.lower(), "failedidentityoperation", "not found")), 15,
               "an Event naming the identity that no longer exists")
    settle(c, 1)
    assert c.aai_state(c.aai(p_gone, gone)) != "Assigned"
    # Pods of the good identity keep coming and going without waiting on the bad one.
    p_ok2 = c.add_pod("shop", "ok-1", pool.nodes[0], selector="ok-id")
    c.wait_assigned(p_ok2, timeout=15)


def test_vm_contributor_missing_is_explained_and_nothing_is_assigned(tmp_path, controller_built):
    from podid_harness.controller_cluster import ControllerCluster, VM_CONTRIBUTOR
    from podid_harness.azure.state import rg_id
    with ControllerCluster(tmp_path, grant_vm_contributor=False) as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        web = bound_identity(c, "shop", "web-id", selector="web")
        c.start_controller()
        pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
        wait_event(c, lambda e: VM_CONTRIBUTOR.lower() in (e.get("message") or e.get("note") or "").lower()
                   or "authorizationfailed" in (e.get("message") or e.get("note") or "").lower(),
                   20, "an Event naming the missing Virtual Machine Contributor role (AuthorizationFailed)")
        assert c.aai_state(c.aai(pod, web)) != "Assigned"
        c.grant(VM_CONTRIBUTOR, rg_id(c.subscription, NODE_RG))
        c.wait_assigned(pod, timeout=40)


def test_identity_resource_id_with_a_typo_is_isolated_and_others_proceed(cluster, controller):
    """The CRD refuses a malformed resourceID, so the bad input that reaches the controller is a well-formed id
    naming nothing (a typo): ARM answers FailedIdentityOperation for it; the rest of the round lands."""
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    typo = f"/subscriptions/{c.subscription}/resourcegroups/podid-workloads/providers/" \
           "Microsoft.ManagedIdentity/userAssignedIdentities/web-idd"
    c.grant(MI_OPERATOR, typo)
    c.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
                  "metadata": {"name": "typo-id", "namespace": "shop"},
                  "spec": {"type": 0, "resourceID": typo, "clientID": str(uuid.uuid4())}})
    c.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
                  "metadata": {"name": "typo-binding", "namespace": "shop"},
                  "spec": {"azureIdentity": "typo-id", "selector": "typo"}})
    ok = bound_identity(c, "shop", "ok-id")
    c.add_pod("shop", "typo-0", pool.nodes[0], selector="typo")
    p_ok = c.add_pod("shop", "ok-0", pool.nodes[0], selector="ok-id")
    c.wait_assigned(p_ok, timeout=30)
    assert c.cloud.assigned_ids(pool.resource_id) == {ok.key}
    wait_event(c, lambda e: (e.get("involvedObject") or {}).get("name") in ("typo-id", "typo-binding")
               and typo.lower() in (e.get("message") or "").lower(), 15, "an Event naming the id ARM refused")
    assert c.aai_state(c.api.find("azureassignedidentities.aadpodidentity.k8s.io", "typo-0-shop-typo-id")) \
        != "Assigned"


def test_node_without_provider_id_does_not_block_others(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    c.api.create_node({"metadata": {"name": "kind-node"}, "spec": {}})
    c.api.create_node({"metadata": {"name": "bad-node"}, "spec": {"providerID": "aws:///us-east-1a/i-0abc"}})
    web = bound_identity(c, "shop", "web-id", selector="web")
    c.add_pod("shop", "x-0", "kind-node", selector="web")
    c.add_pod("shop", "x-1", "bad-node", selector="web")
    p = c.add_pod("shop", "x-2", pool.nodes[0], selector="web")
    c.wait_assigned(p, timeout=30)
    assert on_compute(c, pool, web)
