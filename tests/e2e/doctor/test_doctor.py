# SPDX-License-Identifier: Apache-2.0
"""`podid doctor` against the stand-ins: each mistake the predecessor's users hit is set up for real (a role
assignment missing in the ARM emulator, a wrong client id, a binding in another namespace, a selector in another
case, a node without an agent, an assignment the controller could not make) and doctor must name it, with the
command that fixes it, and exit 1; a healthy cluster exits 0. The ARM calls it makes are counted."""
from __future__ import annotations

import json

from podid_harness.azure.state import rg_id
from podid_harness.controller_cluster import BINDING, MI_OPERATOR, NODE_RG, VM_CONTRIBUTOR


def healthy(cluster, doctor, identities=1, pools=1):
    pools = [cluster.add_scale_set(NODE_RG, f"aks-pool{p}-vmss", nodes=1) for p in range(pools)]
    ids = [cluster.add_identity("shop", f"web-id{i}") for i in range(identities)]
    for i, ident in enumerate(ids):
        cluster.bind("shop", ident, selector=f"web{i}")
        for p, pool in enumerate(pools):
            cluster.add_pod("shop", f"web{i}-{p}", pool.nodes[0], selector=f"web{i}")
    doctor.agents_everywhere()
    return pools, ids


def test_healthy_cluster_exits_0_with_bounded_arm_calls(cluster, doctor):
    pools, ids = healthy(cluster, doctor, identities=3, pools=2)
    cluster.start_controller()
    cluster.wait_assigned(*cluster.pods.values())
    r = doctor.run("doctor")
    assert r.status == 0, r.stdout + r.stderr
    assert [f for f in r.json()["findings"] if f["severity"] != "info"] == []
    # The bound: one GET per identity, one permissions call per distinct scope (3 identities + 2 scale sets).
    assert r.json()["arm"]["calls"] == {"GET identity": 3, "GET permissions": 5}
    assert cluster.arm.counters["GET identity"] == 3 and cluster.arm.counters["GET permissions"] == 5
    table = doctor.run("doctor", output=None)
    assert table.status == 0 and "nothing wrong" in table.stdout and "ARM calls: 8" in table.stdout


def test_missing_managed_identity_operator(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    ident = cluster.add_identity("shop", "web-id", grant_operator=False)
    cluster.bind("shop", ident, selector="web")
    cluster.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    doctor.agents_everywhere()
    r = doctor.run("doctor")
    assert r.status == 1
    f = r.finding("MissingAssignPermission")
    assert f["severity"] == "error" and f["object"] == "AzureIdentity shop/web-id"
    assert f["fix"] == (f"az role assignment create --assignee-object-id {cluster.principal_id} "
                        f"--assignee-principal-type ServicePrincipal --role '{MI_OPERATOR}' "
                        f"--scope {ident.resource_id}")
    # Granting exactly what the fix says makes the finding go away.
    cluster.grant(MI_OPERATOR, ident.resource_id)
    assert "MissingAssignPermission" not in doctor.run("doctor").codes()


def test_missing_virtual_machine_contributor(tmp_path):
    from conftest import Doctor
    from podid_harness.controller_cluster import ControllerCluster
    with ControllerCluster(tmp_path, grant_vm_contributor=False) as cluster:
        doctor = Doctor(cluster)
        pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
        vm = cluster.add_vm(NODE_RG, "standalone-vm")
        ident = cluster.add_identity("shop", "web-id")
        cluster.bind("shop", ident, selector="web")
        cluster.add_pod("shop", "web-0", pool.nodes[0], selector="web")
        cluster.add_pod("shop", "web-1", vm.nodes[0], selector="web")
        doctor.agents_everywhere()
        r = doctor.run("doctor")
        assert r.status == 1
        missing = {f["object"]: f for f in r.json()["findings"] if f["code"] == "MissingComputeWritePermission"}
        assert set(missing) == {f"ScaleSet {pool.resource_id}", f"VM {vm.resource_id}"}
        node_rg = rg_id(cluster.subscription, NODE_RG)
        assert missing[f"ScaleSet {pool.resource_id}"]["fix"].endswith(
            f"--role '{VM_CONTRIBUTOR}' --scope {node_rg}")
        assert "shop/web-id" in missing[f"VM {vm.resource_id}"]["cause"]
        cluster.grant(VM_CONTRIBUTOR, node_rg)
        assert "MissingComputeWritePermission" not in doctor.run("doctor").codes()


def test_wrong_client_id_and_deleted_identity(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    wrong = cluster.add_identity("shop", "web-id", create_cr=False)
    cluster.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
                        "metadata": {"name": "web-id", "namespace": "shop"},
                        "spec": {"type": 0, "resourceID": wrong.resource_id,
                                 "clientID": "00000000-0000-0000-0000-00000000beef"}})
    gone = cluster.add_identity("shop", "old-id")
    cluster.cloud.delete_identity(gone.resource_id)
    doctor.add_agent(pool.nodes[0])
    r = doctor.run("doctor")
    assert r.status == 1
    mismatch = r.finding("ClientIdMismatch")
    assert mismatch["object"] == "AzureIdentity shop/web-id" and wrong.client_id in mismatch["cause"]
    assert mismatch["fix"] == ("kubectl patch azureidentity web-id -n shop --type merge -p "
                               f"'{json.dumps({'spec': {'clientID': wrong.client_id}}, separators=(',', ':'))}'")
    deleted = r.finding("IdentityNotFoundInAzure")
    assert deleted["object"] == "AzureIdentity shop/old-id" and "az identity create" in deleted["fix"]


def test_binding_in_another_namespace_and_selector_case(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    ident = cluster.add_identity("platform", "web-id")
    cluster.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
                        "metadata": {"name": "web-binding", "namespace": "shop"},
                        "spec": {"azureIdentity": "web-id", "selector": "web"}})
    cluster.bind("platform", ident, selector="Reports")
    cluster.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    cluster.add_pod("platform", "reports-0", pool.nodes[0], selector="reports")
    doctor.agents_everywhere()
    r = doctor.run("doctor", azure=False)
    assert r.status == 1 and r.json()["arm"] == {"checked": False, "calls": {},
                                                 "skipped_because": "no --cloud-config (the controller's azure.json)"}
    other_ns = r.finding("BindingIdentityInOtherNamespace")
    assert other_ns["object"] == "AzureIdentityBinding shop/web-binding" and "namespace platform" in other_ns["cause"]
    assert "namespace: \"platform\"" in other_ns["fix"] and other_ns["fix"].endswith(
        "kubectl delete azureidentitybinding web-binding -n shop")
    case = r.finding("SelectorCaseMismatch")
    assert case["object"] == "AzureIdentityBinding platform/web-id-binding" and "platform/reports-0" in case["cause"]
    assert case["fix"] == ("kubectl patch azureidentitybinding web-id-binding -n platform --type merge -p "
                           "'{\"spec\":{\"selector\":\"reports\"}}'")
    # The fix, applied as printed (the patch through the API), clears the finding.
    b = cluster.api.get(BINDING, "web-id-binding", "platform")
    b["spec"]["selector"] = "reports"
    cluster.api.update(b)
    assert "SelectorCaseMismatch" not in doctor.run("doctor", azure=False).codes()


def test_nodes_without_a_ready_agent(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss", nodes=3)
    r = doctor.run("doctor", azure=False)
    assert r.codes() == ["AgentNotInstalled"] and r.status == 1
    doctor.add_agent(pool.nodes[0])
    doctor.add_agent(pool.nodes[1], ready=False)
    r = doctor.run("doctor", azure=False)
    by_code = {f["code"]: f for f in r.json()["findings"]}
    assert by_code["NodeWithoutAgent"]["object"] == f"Node {pool.nodes[2]}"
    assert by_code["AgentNotReady"]["object"] == f"Node {pool.nodes[1]}"
    assert by_code["AgentNotReady"]["fix"] == f"kubectl -n podid-system logs podid-agent-{pool.nodes[1]}"
    assert r.status == 1


def test_assignment_the_controller_could_not_make(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    ident = cluster.add_identity("shop", "web-id", grant_operator=False)
    cluster.bind("shop", ident, selector="web")
    pod = cluster.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    doctor.agents_everywhere()
    r = doctor.run("doctor", azure=False)
    assert r.finding("AssignmentMissing")["object"] == "Pod shop/web-0"
    cluster.start_controller()
    from podid_harness.controller_cluster import wait_for
    wait_for(lambda: cluster.aai(pod, ident) and any(
        c.get("status") == "False" for c in cluster.identity_cr(ident).get("status", {}).get("conditions", [])),
        30, "the controller's failed assignment and its condition")
    r = doctor.run("doctor", azure=False)
    f = r.finding("AssignmentNotAssigned")
    assert f["severity"] == "error" and f["object"] == f"AzureAssignedIdentity default/{cluster.aai_name(pod, ident)}"
    assert "LinkedAuthorizationFailed" in f["cause"]
    assert f["fix"].startswith("az role assignment create") and ident.resource_id in f["fix"]


def test_usage_errors_exit_2(doctor):
    for args in (["frobnicate"], ["doctor", "--output", "yaml"], ["explain"], ["explain", "no-slash"],
                 ["doctor", "--mode", "federated"], ["doctor", "--arm-concurrency", "0"], []):
        r = doctor.run(*args, azure=False, output=None) if args else doctor.run(azure=False, output=None)
        assert r.status == 2 and "podid:" in r.stderr, (args, r)
    assert doctor.run("help", azure=False, output=None).status == 0
