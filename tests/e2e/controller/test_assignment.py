# SPDX-License-Identifier: Apache-2.0
"""Assignment life cycle and the removal rules: a bound pod's identity goes onto its scale set and comes off
with the last pod, and an identity the controller did not add, an immutable one, or the system-assigned
identity, is never removed (issue 7, "Safety")."""
from __future__ import annotations

from podid_harness.controller_cluster import AAI, NODE_RG, ControllerCluster, wait_for

from helpers import assert_assigned_identity_shape, bound_identity, conditions, messages, on_compute, settle


def test_bound_pod_gets_its_identity_and_loses_it_with_the_last_pod(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=2)
    web = bound_identity(c, "shop", "web-id", selector="web")
    p1 = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    [obj] = c.wait_assigned(p1, timeout=30)
    assert_assigned_identity_shape(c, obj, p1, web)
    assert on_compute(c, pool, web)
    assert c.cloud.compute(pool.resource_id).effective.keys() >= {web.key}, "Assigned before the update landed"
    assert len(c.arm_calls("PATCH vmss", pool)) == 1
    creates = c.kube_writes("create", "azureassignedidentities")
    assert len(creates) == 1, creates
    wait_for(lambda: messages(c, reason="binding applied"), 10, "a 'binding applied' event")

    # A second pod on the other node of the same scale set: its AAI, no second PATCH.
    p2 = c.add_pod("shop", "web-1", pool.nodes[1], selector="web")
    c.wait_assigned(p2, timeout=30)
    assert len(c.arm_calls("PATCH vmss", pool)) == 1

    # The first pod goes: its AAI goes, the identity stays (the second pod uses it).
    c.delete_pod(p1)
    c.wait_aai_gone(p1, web, timeout=30)
    settle(c, 1.5)
    assert on_compute(c, pool, web)
    assert len(c.arm_calls("PATCH vmss", pool)) == 1

    # The last pod goes: AAI gone (so its finalizer was removed), identity removed, ledger emptied.
    c.delete_pod(p2)
    c.wait_aai_gone(p2, web, timeout=30)
    c.wait_on_compute(pool, web, present=False, timeout=30)
    assert len(c.arm_calls("PATCH vmss", pool)) == 2
    assert c.aais() == []
    wait_for(lambda: messages(c, reason="binding removed"), 10, "a 'binding removed' event")
    wait_for(lambda: all(web.key not in str(cm.get("data", {})).lower() for cm in c.ledgers()), 10,
             "the ledger to forget the removed identity")
    assert c.forbidden() == []


def test_a_federated_identity_is_never_put_on_a_scale_set_and_says_why(cluster, controller):
    """Its token is exchanged for the pod's service-account token: no PATCH, no role needed on it, Assigned at once,
    and the identity's and binding's condition name what each service account needs instead."""
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    standard = bound_identity(c, "shop", "web-id", selector="web")
    fed = c.add_identity("shop", "orders-id", grant_operator=False, federated=True)
    c.bind("shop", fed, "orders")
    orders = c.add_pod("shop", "orders-0", pool.nodes[0], selector="orders")
    web = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(orders, web, timeout=30)
    settle(c, 1.5)
    assert on_compute(c, pool, standard) and not on_compute(c, pool, fed)
    assert len(c.arm_calls("PATCH vmss", pool)) == 1       # the standard identity's only

    def federated_condition():
        found = [x for x in conditions(c.identity_cr(fed)) if x.get("type") == "Assigned"]
        return found if found and found[0].get("reason") == "Federated" else None
    [cond] = wait_for(federated_condition, 10, "the federated identity's Assigned condition")
    assert cond["status"] == "True" and "is federated" in cond["message"], cond
    binding = [x for x in conditions(c.binding_cr("shop", "orders-id-binding")) if x.get("type") == "Assigned"]
    assert binding and binding[0]["reason"] == "Federated", binding
    assert c.forbidden() == []


def test_ledger_records_what_was_added_before_the_patch_lands(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    [cm] = [cm for cm in c.ledgers()
            if (cm["metadata"].get("annotations") or {}).get("podid.io/resource-id", "").lower()
            == pool.resource_id.lower()]
    assert cm["metadata"]["name"].startswith("podid-ledger-") and len(cm["metadata"]["name"]) == 13 + 16
    assert web.key in str(cm.get("data", {})).lower()


def test_identity_on_the_scale_set_before_is_never_removed(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    pre = bound_identity(c, "shop", "pre-id", selector="pre")
    c.cloud.assign_identity(pool.resource_id, pre.resource_id)         # put there by someone else
    pod = c.add_pod("shop", "pre-0", pool.nodes[0], selector="pre")
    c.wait_assigned(pod, timeout=30)
    assert c.arm_calls("PATCH vmss", pool) == [], "nothing to add"
    c.delete_pod(pod)
    c.wait_aai_gone(pod, pre, timeout=30)
    settle(c, 2)
    assert on_compute(c, pool, pre), "removed an identity podid did not add"
    assert c.arm_calls("PATCH vmss", pool) == []


def test_unbound_identity_on_the_scale_set_is_left_alone(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    other = c.cloud.add_identity(NODE_RG, "someone-elses-id")
    c.cloud.assign_identity(pool.resource_id, other.resource_id)
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    c.delete_pod(pod)
    c.wait_on_compute(pool, web, present=False, timeout=30)
    assert other.resource_id.lower() in c.cloud.assigned_ids(pool.resource_id)


def test_immutable_identity_flag_is_never_removed(cluster, controller_built):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    imm = bound_identity(c, "shop", "imm-id", selector="imm")
    c.start_controller("--immutable-user-msis", imm.client_id.upper())   # client ids compare case-insensitively
    pod = c.add_pod("shop", "imm-0", pool.nodes[0], selector="imm")
    c.wait_assigned(pod, timeout=40)
    assert on_compute(c, pool, imm)
    c.delete_pod(pod)
    c.wait_aai_gone(pod, imm, timeout=30)
    settle(c, 2)
    assert on_compute(c, pool, imm), "removed an immutable identity"
    assert len(c.arm_calls("PATCH vmss", pool)) == 1


def test_cloud_config_identity_is_immutable_without_a_flag(tmp_path, controller_built):
    with ControllerCluster(tmp_path, immutable_identity=True) as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        kubelet = c.cluster_identity
        assert c.azure_json()["userAssignedIdentityID"] == kubelet.client_id
        c.grant("Managed Identity Operator", kubelet.resource_id)
        c.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
                      "metadata": {"name": "kubelet-id", "namespace": "shop"},
                      "spec": {"type": 0, "resourceID": kubelet.resource_id, "clientID": kubelet.client_id}})
        c.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
                      "metadata": {"name": "kubelet-binding", "namespace": "shop"},
                      "spec": {"azureIdentity": "kubelet-id", "selector": "kubelet"}})
        c.start_controller()
        pod = c.add_pod("shop", "k-0", pool.nodes[0], selector="kubelet")
        wait_for(lambda: kubelet.resource_id.lower() in c.cloud.assigned_ids(pool.resource_id), 40,
                 "the cluster identity added for the pod", diagnose=c.diagnostics)
        wait_for(lambda: c.aai_state(c.api.find(AAI, "k-0-shop-kubelet-id")) == "Assigned", 20, "Assigned",
                 diagnose=c.diagnostics)
        c.delete_pod(pod)
        wait_for(lambda: c.api.find(AAI, "k-0-shop-kubelet-id") is None, 30, "AAI deleted", diagnose=c.diagnostics)
        settle(c, 2)
        assert kubelet.resource_id.lower() in c.cloud.assigned_ids(pool.resource_id), \
            "removed the cluster's own identity (azure.json userAssignedIdentityID)"


def test_system_assigned_identity_is_kept(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1, system_assigned=True)
    system_principal = pool.compute.system_principal_id
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    assert pool.compute.identity_type == "SystemAssigned, UserAssigned"
    assert pool.compute.system_principal_id == system_principal, "the system-assigned identity was replaced"
    c.delete_pod(pod)
    c.wait_on_compute(pool, web, present=False, timeout=30)
    assert pool.compute.identity_type == "SystemAssigned"
    assert pool.compute.system_principal_id == system_principal


def test_standalone_vm_gets_the_identity(cluster, controller):
    c = cluster
    vm = c.add_vm(NODE_RG, "aks-vm-0")
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", vm.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    assert on_compute(c, vm, web)
    assert len(c.arm.log.entries(op="PATCH vm")) == 1 and c.arm_calls("PATCH vmss") == []
    c.delete_pod(pod)
    c.wait_on_compute(vm, web, present=False, timeout=30)


def test_pod_with_several_identities_gets_all(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    a = bound_identity(c, "shop", "a-id", selector="multi")
    b = c.add_identity("shop", "b-id")
    c.bind("shop", b, "multi")
    pod = c.add_pod("shop", "m-0", pool.nodes[0], selector="multi")
    assert len(c.wait_assigned(pod, timeout=30)) == 2
    assert on_compute(c, pool, a) and on_compute(c, pool, b)
    assert len(c.arm_calls("PATCH vmss", pool)) == 1, "two identities of one round in one PATCH"


def test_unbound_and_unscheduled_pods_cause_no_arm_call(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    bound_identity(c, "shop", "web-id", selector="web")
    c.add_pod("shop", "plain-0", pool.nodes[0])                       # no aadpodidbinding label
    c.add_pod("shop", "other-0", pool.nodes[0], selector="nobody")    # a selector no binding has
    c.add_pod("shop", "pending-0", None, selector="web")               # not scheduled yet
    settle(c, 2)
    assert c.arm_calls("PATCH vmss") == [] and c.aais() == []
