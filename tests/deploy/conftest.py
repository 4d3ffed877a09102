# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the deploy/ tests: where things are, the parsed manifests, an API server stand-in that also
serves the built-in kinds the manifests use, and kubectl pointed at it (and at nothing else)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from podid_harness.azure.tlsca import TestCA
from podid_harness.kube import KubeApiServer
from podid_harness.kube.resources import ALL_VERBS, ResourceType

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRDS = DEPLOY / "crds"
MANIFESTS = DEPLOY / "manifests"
CHART = DEPLOY / "helm" / "podid"
NAMESPACE = "podid-system"

# Built-in kinds the manifests use that the stand-in does not carry (it serves core pods/nodes/secrets/...,
# leases and CRDs). Stored as given, like its other built-ins: no defaulting, no validation of the spec.
EXTRA_BUILTINS = (
    ResourceType("", "v1", "services", "Service", True, "service", ("svc",), ALL_VERBS, ("status",)),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",), ALL_VERBS, ("status",)),
    ResourceType("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",), ALL_VERBS,
                 ("status",)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "poddisruptionbudget",
                 ("pdb",), ALL_VERBS, ("status",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
                 "clusterrolebinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "rolebinding"),
)


def load_docs(*paths: Path) -> list[dict]:
    """Every YAML document of the files (directories: their *.yaml, not recursive, as `kubectl apply -f`)."""
    docs = []
    for p in paths:
        files = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
        for f in files:
            docs.extend(d for d in yaml.safe_load_all(f.read_text()) if d)
    return docs


def key(obj: dict) -> tuple[str, str, str]:
    md = obj.get("metadata") or {}
    return (obj["kind"], md.get("namespace", ""), md["name"])


@pytest.fixture(scope="session")
def ca():
    with TestCA(common_name="podid deploy tests CA") as c:
        yield c


@pytest.fixture
def api(ca):
    with KubeApiServer.start(ca=ca) as server:
        for rt in EXTRA_BUILTINS:
            server.emulator.resources.register(rt)
        yield server


@pytest.fixture
def kubectl(api, tmp_path):
    # Debian's kubectl (scripts/install-deps unpacks it there when another package owns /usr/bin/kubectl).
    debian = "/opt/podid/kubernetes-client/usr/bin/kubectl"
    binary = os.environ.get("PODID_KUBECTL") or (debian if os.access(debian, os.X_OK) else shutil.which("kubectl"))
    if not binary:
        pytest.skip("kubectl not found (apt-get install kubernetes-client, or set PODID_KUBECTL)")
    # Only the stand-in's kubeconfig, and a HOME of its own: kubectl reads no user configuration and can reach
    # no other server.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "KUBECONFIG": api.kubeconfig(tmp_path / "kubeconfig")}

    def run(*args, check=True, stdin=None):
        r = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120, input=stdin)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r
    return run
