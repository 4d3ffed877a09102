# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes API stand-in a doc block runs against, as a user's shell would: kubectl (and the built podid)
on PATH, deploy/ beside it, the quickstart's Azure values faked (FAKE_AZURE). Types the stand-in does not serve
(apps/v1 DaemonSet, core Services, networking.k8s.io NetworkPolicy, Calico, Cilium...) are registered with it
first, so kubectl can apply them; the stand-in checks names, namespaces and kinds of those, not their specs."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from doc_blocks import ROOT, all_blocks
from podid_harness.kube import KubeApiServer
from podid_harness.kube.resources import ResourceType
from podid_harness.paths import BUILD

PODID = BUILD / "cli" / "podid"

# What the quickstart's azure-only blocks would have set, in the shapes Azure gives them.
FAKE_AZURE = {
    "LOCATION": "westeurope", "RG": "podid-demo", "CLUSTER": "podid-demo", "IDENTITY": "podid-demo-reader",
    "VAULT": "podid-demo-4242", "NODE_RG": "MC_podid-demo_podid-demo_westeurope",
    "KUBELET_OBJECT_ID": "7d4c2b1a-0e9f-4a8b-9c7d-6e5f4a3b2c1d",
    "IDENTITY_CLIENT_ID": "5f3a1c2e-8d4b-4e7a-9b1c-2d3e4f5a6b7c",
    "IDENTITY_PRINCIPAL_ID": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "IDENTITY_RESOURCE_ID": "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/podid-demo/"
                            "providers/Microsoft.ManagedIdentity/userAssignedIdentities/podid-demo-reader",
    "VAULT_ID": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/podid-demo/providers/"
                "Microsoft.KeyVault/vaults/podid-demo-4242",
}

CLUSTER_SCOPED_KINDS = {"ClusterRole", "ClusterRoleBinding", "PriorityClass", "GlobalNetworkPolicy",
                        "CiliumClusterwideNetworkPolicy", "ValidatingWebhookConfiguration",
                        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                        "ValidatingAdmissionPolicyBinding", "RuntimeClass", "StorageClass", "APIService"}


def manifest_objects(path: Path) -> list[dict]:
    files = sorted(path.rglob("*.yaml")) + sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    out = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                out.extend(doc.get("items") or [])
            elif isinstance(doc, dict):
                out.append(doc)
    return out


def heredoc_objects(script: str) -> list[dict]:
    """Kubernetes objects in the heredocs of a script (variables left as written)."""
    out = []
    for m in re.finditer(r"<<-?\s*'?(\w+)'?\n(.*?)\n\1\n", script, re.S):
        for doc in yaml.safe_load_all(m.group(2)):
            if isinstance(doc, dict) and "kind" in doc:
                out.append(doc)
    return out


def plural_of(kind: str) -> str:
    k = kind.lower()
    if k.endswith("y"):
        return k[:-1] + "ies"
    if k.endswith("s") or k.endswith("x"):
        return k + "es"
    return k + "s"


def serves(api: KubeApiServer, group: str, version: str, kind: str) -> bool:
    return any(t.group == group and t.version == version and t.kind == kind
               for t in api.emulator.resources.types())


def register_missing_types(api: KubeApiServer, objects: list[dict]) -> None:
    """Serve each apiVersion/kind the objects use that the stand-in lacks (apps/v1, rbac, policy, core
    Services, networking.k8s.io, Calico, Cilium, ...), except those a CRD among the objects defines: kubectl
    applies those CRDs first, as a user does."""
    defined = {(crd["spec"]["group"], crd["spec"]["names"]["kind"]) for crd in objects
               if crd.get("kind") == "CustomResourceDefinition"}
    seen = set()
    for obj in objects:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        kind = obj.get("kind", "")
        if not kind or not version or (group, version, kind) in seen:
            continue
        seen.add((group, version, kind))
        if serves(api, group, version, kind) or (group, kind) in defined:
            continue
        api.emulator.resources.register(ResourceType(group, version, plural_of(kind), kind,
                                                     kind not in CLUSTER_SCOPED_KINDS, kind.lower()))


def every_object_the_docs_apply() -> list[dict]:
    objs = []
    for d in ("crds", "manifests", "network-policies"):
        if (ROOT / "deploy" / d).is_dir():
            objs += manifest_objects(ROOT / "deploy" / d)     # manifests/ includes optional/ and uninstall/
    for b in all_blocks():
        if b.lang == "sh" and not b.azure_only:
            objs += heredoc_objects(b.text)
        elif b.lang == "yaml":
            objs += [o for o in yaml.safe_load_all(b.text) if isinstance(o, dict) and "kind" in o]
    return objs


def name_of(api: KubeApiServer, obj: dict) -> tuple[str, str, str]:
    group, _, _ = str(obj["apiVersion"]).rpartition("/")
    rt = api.resource(obj["kind"], group)
    ns = (obj.get("metadata") or {}).get("namespace", "default") if rt.namespaced else ""
    return rt.plural if not group else f"{rt.plural}.{group}", obj["metadata"]["name"], ns


class Shell:
    """Runs a doc block as a user would, in a scratch directory where deploy/ is the repository's, with only
    kubectl on PATH, the stand-in's kubeconfig, and the quickstart's variables set to fake values."""

    def __init__(self, api: KubeApiServer, kubectl: str, tmp: Path):
        self.api, self.work = api, tmp / "work"
        bindir = tmp / "bin"
        bindir.mkdir()
        self.work.mkdir()
        (bindir / "kubectl").symlink_to(kubectl)
        if PODID.exists():                       # docs/doctor.md's `podid doctor` / `podid explain`
            (bindir / "podid").symlink_to(PODID.resolve())
        (self.work / "deploy").symlink_to(ROOT / "deploy")
        real = Path(os.path.realpath(kubectl)).parent   # a dispatcher (gcloud's) finds its versions beside it
        self.env = {"PATH": f"{bindir}:{real}", "HOME": str(tmp), "KUBECONFIG": api.kubeconfig(tmp / "kubeconfig"),
                    "LANG": "C.UTF-8", **FAKE_AZURE}

    def run(self, script: str, where: str) -> subprocess.CompletedProcess:
        r = subprocess.run(["/bin/bash", "-euo", "pipefail", "-c", script], cwd=self.work, env=self.env,
                           capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, f"{where}: exit {r.returncode}\n--- script\n{script}--- stdout\n{r.stdout}" \
                                  f"--- stderr\n{r.stderr}"
        return r


def apply_deploy(shell: Shell) -> None:
    for d in ("crds", "manifests"):
        if (ROOT / "deploy" / d).is_dir():
            shell.run(f"kubectl apply -f deploy/{d}/", f"deploy/{d}")


def seed_quickstart(api: KubeApiServer) -> None:
    """What the README's quickstart leaves in a cluster, for the other pages' examples."""
    api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
                "metadata": {"name": "reader", "namespace": "demo"},
                "spec": {"type": 0, "resourceID": FAKE_AZURE["IDENTITY_RESOURCE_ID"],
                         "clientID": FAKE_AZURE["IDENTITY_CLIENT_ID"]}})
    api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
                "metadata": {"name": "reader", "namespace": "demo"},
                "spec": {"azureIdentity": "reader", "selector": "reader"}})
    api.create_pod({"metadata": {"name": "kv-reader", "namespace": "demo", "labels": {"aadpodidbinding": "reader"}},
                    "spec": {"nodeName": "aks-nodepool1-0", "containers": [{"name": "az", "image": "azure-cli"}]},
                    "status": {"phase": "Running", "podIP": "10.244.0.12"}})
