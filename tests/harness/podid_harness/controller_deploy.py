# SPDX-License-Identifier: Apache-2.0
"""What the controller cluster takes from deploy/ (the aadpodidentity.k8s.io CRDs, the controller's RBAC) and
the names its tests share: the controller's namespace and user, Azure roles (the aad-pod-identity resources'
names are in identity_objects.py)."""
from __future__ import annotations

from .identity_objects import GROUP
from .paths import REPO

CONTROLLER_NS = "podid-system"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NS}:podid-controller"
ARM_AUDIENCE = "https://management.azure.com/"
LEASE_NAME = "podid-controller"
VM_CONTRIBUTOR = "Virtual Machine Contributor"
MI_OPERATOR = "Managed Identity Operator"
KUBE_WRITES = ("create", "update", "patch", "delete", "deletecollection")

# What the controller may do in the API when deploy/manifests/20-controller-rbac.yaml is absent (the least
# privilege its chart is meant to grant). Anything else shows up as a 403 in api.request_log (`forbidden()`).
CONTROLLER_RULES = [
    (["get", "list", "watch"], [""], ["pods", "nodes"]),
    (["*"], [GROUP], ["azureidentities", "azureidentitybindings", "azureassignedidentities",
                      "azurepodidentityexceptions", "azureidentities/status", "azureidentitybindings/status",
                      "azureassignedidentities/status"]),
    (["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
    {"verbs": ["get", "list", "watch", "create", "update", "patch", "delete"], "groups": [""],
     "resources": ["configmaps"], "namespace": CONTROLLER_NS},
    {"verbs": ["get", "list", "watch", "create", "update", "patch"], "groups": ["coordination.k8s.io"],
     "resources": ["leases"], "namespace": CONTROLLER_NS},
]


def load_crds() -> tuple[list[dict], str]:
    """The aadpodidentity.k8s.io CRDs and where they came from: deploy/crds/*.yaml once the chart ships them,
    else the predecessor-shaped fixtures the API stand-in's own tests use."""
    import yaml
    deploy = sorted((REPO / "deploy" / "crds").glob("*.yaml"))
    # TODO(deploy): drop the fallback once deploy/crds/ exists in every checkout these tests run on.
    files = deploy or sorted((REPO / "tests" / "harness" / "tests_kube" / "fixtures").glob("*-crd.yaml"))
    crds = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["group"] == GROUP:
                if not deploy:
                    # The predecessor's CRDs declare no status subresource (reference §3) and podid-controller
                    # writes status on the main resource for that reason; the stand-in's fixture adds one to
                    # AzureAssignedIdentity, which would make those writes keep the old status.
                    for v in doc["spec"]["versions"]:
                        v.pop("subresources", None)
                crds.append(doc)
    return crds, ("deploy/crds" if deploy else "tests/harness/tests_kube/fixtures")


def controller_rules() -> tuple[list, str]:
    """The controller's API permissions as deploy/ grants them (ClusterRole cluster-wide, Role in its namespace),
    so a rule missing from the manifests fails these tests as it would fail in a cluster; CONTROLLER_RULES when
    the manifests are absent. resourceNames are not modelled by the stand-in (those rules apply to any name)."""
    import yaml
    path = REPO / "deploy" / "manifests" / "20-controller-rbac.yaml"
    if not path.exists():
        return CONTROLLER_RULES, "controller_cluster.CONTROLLER_RULES"
    rules = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        ns = doc["metadata"].get("namespace") if doc["kind"] == "Role" else None
        if doc["kind"] == "Role" and ns != CONTROLLER_NS:
            raise RuntimeError(f"{path}: Role in {ns!r}, the harness runs the controller in {CONTROLLER_NS!r}")
        for r in doc.get("rules") or []:
            rules.append({"verbs": r["verbs"], "groups": r.get("apiGroups", [""]), "resources": r["resources"],
                          "namespace": ns})
    return rules, "deploy/manifests/20-controller-rbac.yaml"

