# SPDX-License-Identifier: Apache-2.0
"""Doc-checks: the set-up before and the assertions after a block marked `<!-- doc-check: NAME -->`
(doc_blocks.py), by NAME. test_doc_commands.py wraps them around the block it runs."""
from __future__ import annotations

import subprocess
from typing import Callable, Optional

import pytest

from doc_blocks import DOCS, ROOT, blocks
from doc_stand_in import FAKE_AZURE, PODID, manifest_objects, name_of
from podid_harness.kube import KubeApiServer
from podid_harness.kube.errors import ApiError


def _aai(name: str, finalizers: list[str]) -> dict:
    return {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureAssignedIdentity",
            "metadata": {"name": name, "namespace": "default", "labels": {"nodename": "aks-nodepool1-0"},
                         "finalizers": finalizers},
            "spec": {"pod": name, "podNamespace": "demo", "nodename": "aks-nodepool1-0"},
            "status": {"status": "Assigned"}}


def _stuck_before(api: KubeApiServer) -> None:
    fin = ["azureassignedidentity.finalizers.aadpodidentity.k8s.io"]
    api.create(_aai("gone-demo-reader", fin))
    api.create(_aai("live-demo-reader", fin))
    api.delete("azureassignedidentities", "gone-demo-reader", "default")   # stays, Terminating, as in the doc
    assert api.find("azureassignedidentities", "gone-demo-reader", "default") is not None


def _stuck_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    assert api.find("azureassignedidentities", "gone-demo-reader", "default") is None, "stuck AAI not released"
    live = api.get("azureassignedidentities", "live-demo-reader", "default")
    assert live["metadata"].get("finalizers"), "an AAI that was not being deleted lost its finalizer"


def _host_network_before(api: KubeApiServer) -> None:
    api.create_pod({"metadata": {"name": "node-daemon", "namespace": "kube-system"},
                    "spec": {"hostNetwork": True, "nodeName": "aks-nodepool1-0",
                             "containers": [{"name": "d", "image": "d"}]}})


def _host_network_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    assert out.stdout.split() == ["kube-system/node-daemon"], out.stdout


def _identity_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    spec = api.get("azureidentities", "reader", "demo")["spec"]
    assert (spec["type"], spec["clientID"], spec["resourceID"]) == \
        (0, FAKE_AZURE["IDENTITY_CLIENT_ID"], FAKE_AZURE["IDENTITY_RESOURCE_ID"]), spec
    assert api.get("azureidentitybindings", "reader", "demo")["spec"] == {"azureIdentity": "reader",
                                                                        "selector": "reader"}


def _pod_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    pod = api.get("pods", "kv-reader", "demo")
    assert pod["metadata"]["labels"] == {"aadpodidbinding": "reader"}
    script = pod["spec"]["containers"][0]["args"][0]
    assert f"--vault-name {FAKE_AZURE['VAULT']} " in script, script


def _federated_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    sa = api.get("serviceaccounts", "kv-reader", "demo")
    workload = {k: v for k, v in sa["metadata"]["annotations"].items() if k.startswith("azure.workload.identity/")}
    assert workload == {"azure.workload.identity/client-id": FAKE_AZURE["IDENTITY_CLIENT_ID"]}, sa["metadata"]
    pod = api.get("pods", "kv-reader-federated", "demo")
    assert pod["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert pod["spec"]["serviceAccountName"] == "kv-reader"


def _cleanup_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    assert api.find("namespaces", "demo", "") is None or \
        api.get("namespaces", "demo", "")["metadata"].get("deletionTimestamp")
    left = []
    top = [f for f in sorted((ROOT / "deploy" / "manifests").glob("*.yaml"))]
    for f in top + [ROOT / "deploy" / "manifests" / "uninstall" / "podid-uninstall.yaml"]:
        for obj in manifest_objects(f):
            if obj.get("kind") == "Namespace":
                continue
            try:
                plural, name, ns = name_of(api, obj)
            except ApiError:
                continue            # its type went with its CRD, and so did the object
            if api.find(plural, name, ns) is not None:
                left.append(f"{obj['kind']} {ns}/{name}")
    for crd in manifest_objects(ROOT / "deploy" / "crds"):
        if api.find("customresourcedefinitions", crd["metadata"]["name"], "") is not None:
            left.append(f"CRD {crd['metadata']['name']}")
    assert not left, f"still there after the README's clean-up: {left}"


CONDITION_MESSAGE = ("ARM refused the identity on /subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Compute/"
                     "virtualMachineScaleSets/aks-nodepool1-vmss: LinkedAuthorizationFailed: the controller's identity "
                     f"(principal {FAKE_AZURE['KUBELET_OBJECT_ID']}) may not perform Microsoft.ManagedIdentity/"
                     f"userAssignedIdentities/assign/action on {FAKE_AZURE['IDENTITY_RESOURCE_ID']}. Fix: az role "
                     f"assignment create --assignee {FAKE_AZURE['KUBELET_OBJECT_ID']} --role \"Managed Identity "
                     f"Operator\" --scope {FAKE_AZURE['IDENTITY_RESOURCE_ID']}")


def _conditions_before(api: KubeApiServer) -> None:
    # As controller/kube/condition_writer.cpp writes it: a merge patch of the main resource.
    api.patch("azureidentities", "reader", {"status": {"conditions": [
        {"type": "Assigned", "status": "False", "reason": "LinkedAuthorizationFailed", "message": CONDITION_MESSAGE,
         "lastTransitionTime": "2025-11-25T10:00:00Z", "observedGeneration": 1}]}}, "demo")


def _conditions_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    first = out.stdout.splitlines()[0]
    assert first == f"Assigned=False LinkedAuthorizationFailed: {CONDITION_MESSAGE}", out.stdout


def _keep_after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
    for plural in ("azureidentities", "azureidentitybindings"):
        annotations = api.get(plural, "reader", "demo")["metadata"].get("annotations") or {}
        assert annotations.get("helm.sh/resource-policy") == "keep", (plural, annotations)


# docs/doctor.md: the quickstart's cluster made whole (its node on a scale set, a Ready agent, the pod's
# AzureAssignedIdentity Assigned), then one mistake; each block's output must be the `text` block after it.
DEMO_NODE = "aks-nodepool1-0"
DEMO_VMSS = (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{FAKE_AZURE['NODE_RG']}/providers/"
             "Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-vmss")


def _documented_output(check: str) -> str:
    for doc in DOCS:
        bs = blocks(doc)
        for i, b in enumerate(bs):
            if b.check == check:
                assert i + 1 < len(bs) and bs[i + 1].lang == "text", f"{b.where}: no ```text output after it"
                return bs[i + 1].text
    raise AssertionError(f"no block marked {check}")


def _same_output(check: str) -> Callable:
    def after(api: KubeApiServer, out: subprocess.CompletedProcess) -> None:
        assert out.stdout == _documented_output(check), f"the output differs from the doc's:\n{out.stdout}"
    return after


def _doctor_healthy_before(api: KubeApiServer) -> None:
    if not PODID.exists():
        pytest.fail(f"{PODID} is not built (cmake --build <build> --target podid)", pytrace=False)
    api.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": DEMO_NODE},
                     "spec": {"providerID": f"azure://{DEMO_VMSS}/virtualMachines/0"},
                     "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    api.create_pod({"metadata": {"name": f"podid-agent-{DEMO_NODE}", "namespace": "podid-system",
                                 "labels": {"app.kubernetes.io/name": "podid", "app.kubernetes.io/component": "agent"}},
                    "spec": {"nodeName": DEMO_NODE, "containers": [{"name": "agent", "image": "podid"}]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    identity = api.get("azureidentities", "reader", "demo")
    api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureAssignedIdentity",
                "metadata": {"name": "kv-reader-demo-reader", "namespace": "default"},
                "spec": {"pod": "kv-reader", "podNamespace": "demo", "nodename": DEMO_NODE,
                         "azureIdentityRef": identity,
                         "azureBindingRef": api.get("azureidentitybindings", "reader", "demo")},
                "status": {"status": "Assigned", "availableReplicas": 1}})


def _doctor_selector_case_before(api: KubeApiServer) -> None:
    api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
                "metadata": {"name": "reader-upper", "namespace": "demo"},
                "spec": {"azureIdentity": "reader", "selector": "Reader"}})


CHECKS: dict[str, tuple[Optional[Callable], Optional[Callable]]] = {
    "doctor-healthy": (_doctor_healthy_before, _same_output("doctor-healthy")),
    "doctor-selector-case": (_doctor_selector_case_before, _same_output("doctor-selector-case")),
    "doctor-explain": (None, _same_output("doctor-explain")),
    "keep-identities": (None, _keep_after),
    "controller-conditions": (_conditions_before, _conditions_after),
    "stuck-aais": (_stuck_before, _stuck_after),
    "host-network-pods": (_host_network_before, _host_network_after),
    "quickstart-identity": (None, _identity_after),
    "quickstart-pod": (None, _pod_after),
    "quickstart-federated": (None, _federated_after),
    "quickstart-cleanup": (None, _cleanup_after),
}
