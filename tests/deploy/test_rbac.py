# SPDX-License-Identifier: Apache-2.0
"""The RBAC rules grant exactly the API calls the binaries make: each call listed below is allowed, each rule
is needed by a listed call, and the list is kept honest by reading the sources for the API resources they name.

When a binary starts calling something new, test_sources_name_only_listed_resources fails: add the call here
(with where it is made) and the rule to deploy/manifests and the chart, or drop the call."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from conftest import MANIFESTS, NAMESPACE, REPO, load_docs

CRD_GROUP = "aadpodidentity.k8s.io"


@dataclass(frozen=True)
class Call:
    verb: str
    group: str
    resource: str
    namespace: Optional[str]      # None: cluster-wide (all namespaces or a cluster-scoped object)
    name: Optional[str] = None    # a fixed object name, when the code uses one
    where: str = ""


def calls(verbs, group, resources, namespace=None, name=None, where=""):
    return [Call(v, group, r, namespace, name, where) for v in verbs for r in resources]


AGENT = [
    *calls(["list", "watch"], "", ["pods"], where="agent/cluster/cluster_watch.cpp (fieldSelector spec.nodeName)"),
    *calls(["list", "watch"], CRD_GROUP, ["azureidentities", "azureidentitybindings", "azurepodidentityexceptions",
                                          "azureassignedidentities"], where="agent/cluster/cluster_watch.cpp"),
    *calls(["list", "watch"], "", ["serviceaccounts"],
           where="agent/cluster/cluster_watch.cpp (--federated: azure.workload.identity annotations)"),
]
# With the default kubelet credential the TokenRequests are the kubelet's (system:nodes), not the agent account's.
AGENT_TOKEN_REQUEST = calls(["create"], "", ["serviceaccounts/token"],
                            where="agent/cluster/token_request_client.cpp (--token-request-credential service-account)")
AGENT_SECRETS = calls(["list", "watch"], "", ["secrets"],
                      where="agent/cluster/secret_store.cpp (per Secret, fieldSelector metadata.name)")
AGENT_STARTUP_TAINT = calls(["get", "patch"], "", ["nodes"], where="agent/cluster/startup_taint.cpp (--startup-taint)")

CONTROLLER = [
    *calls(["list", "watch"], "", ["pods", "nodes"], where="controller/cluster/cluster_cache.cpp (informers)"),
    *calls(["list", "watch", "patch"], CRD_GROUP, ["azureidentities", "azureidentitybindings"],
           where="cluster_cache.cpp; controller/kube/condition_writer.cpp (status conditions, merge patch)"),
    *calls(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"], CRD_GROUP,
           ["azureassignedidentities"],
           where="cluster_cache.cpp; controller/kube/assigned_identity_writer.cpp (lifecycle, finalizer, the AAIs "
                 "of gone pods by label)"),
    *calls(["create", "patch"], "", ["events"], where="controller/kube/event_recorder.cpp"),
    *calls(["get", "list", "create", "update"], "", ["configmaps"], NAMESPACE,
           where="controller/kube/ledger_store.cpp: ledger ConfigMaps podid-ledger-<hash>"),
    Call("create", "coordination.k8s.io", "leases", NAMESPACE, where="controller/leader/lease_elector.cpp"),
    *calls(["get", "update"], "coordination.k8s.io", ["leases"], NAMESPACE, "podid-controller",
           where="lease_elector.cpp: read and renew the Lease by name"),
]

# Source directories whose code runs as each service account.
SOURCES = {"agent": ["agent"], "controller": ["controller"]}
KNOWN_RESOURCES = {"pods", "nodes", "secrets", "configmaps", "events", "leases", "services", "endpoints",
                   "namespaces", "serviceaccounts", "deployments", "daemonsets", "customresourcedefinitions",
                   "azureidentities", "azureidentitybindings", "azurepodidentityexceptions",
                   "azureassignedidentities", "tokenreviews", "subjectaccessreviews", "endpointslices"}
# The CRD plurals also name the agent's informers ("azureidentities" as a watch name): any mention counts.
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def resources_named(component: str) -> set[str]:
    """API resources named in the component's non-test sources: a string literal that is a resource's plural or
    holds one as a path segment ("/api/v1/nodes/", "/secrets")."""
    found = set()
    for d in SOURCES[component]:
        for f in sorted((REPO / d).rglob("*")):
            if f.suffix not in (".cpp", ".h") or "test" in f.name:
                continue
            for lit in _LITERAL.findall(_code(f)):
                found |= _resources_in(lit)
    return found


def _code(f: Path) -> str:
    """The file without #include lines: their paths are not API paths, even where a segment is also a resource
    name (the test below includes a made-up "agent/events/x.h")."""
    return "\n".join(line for line in f.read_text(errors="replace").splitlines()
                     if not line.lstrip().startswith("#include"))


def _resources_in(literal: str) -> set[str]:
    if "/" not in literal:
        return {literal} & KNOWN_RESOURCES
    parts = literal.split("/")
    # ".../namespaces/" + ns + "/pods": `namespaces` followed by a name (or the end of a prefix) is a scope.
    return {p for i, p in enumerate(parts) if p in KNOWN_RESOURCES
            and not (p == "namespaces" and i + 1 < len(parts))}


_CALL = re.compile(r'\.call\("(\w+)",\s*(?:"(\w+)"|(\w+))')
_CONSTANT = r'\b{}\s*=\s*"(\w+)"'
_REFLECTOR_LINE = re.compile(r"\bwatch\(|\badd\(|collection_path")


def calls_in_code(component: str) -> set[tuple[str, str]]:
    """(verb, resource) pairs the component's code makes: MeteredApi::call("verb", resource, ...) with the
    resource a literal, a name the file assigns one literal to, or else every resource the file names; and
    list+watch for the resources on a reflector's line."""
    out = set()
    for d in SOURCES[component]:
        for f in sorted((REPO / d).rglob("*.cpp")):
            if "test" in f.name:
                continue
            text = _code(f)
            named = {r for lit in _LITERAL.findall(text) for r in _resources_in(lit)}
            for verb, literal, ident in _CALL.findall(text):
                if literal:
                    out.add((verb, literal))
                elif (m := re.search(_CONSTANT.format(ident), text)):
                    out.add((verb, m.group(1)))
                else:
                    out |= {(verb, r) for r in named}
            for line in text.splitlines():
                if _REFLECTOR_LINE.search(line):
                    for lit in _LITERAL.findall(line):
                        out |= {(v, r) for r in _resources_in(lit) for v in ("list", "watch")}
    return out


# ---- RBAC evaluation ------------------------------------------------------------------------------------------
@dataclass
class Grant:
    rules: list[dict]
    namespace: Optional[str]      # a Role's namespace; None for a ClusterRole bound cluster-wide


def grants(files: list[Path], service_account: str) -> list[Grant]:
    docs = load_docs(*files)
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs
             if d["kind"] in ("Role", "ClusterRole")}
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s["kind"] == "ServiceAccount" and s["name"] == service_account and s["namespace"] == NAMESPACE
                   for s in b["subjects"]):
            continue
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        role = roles[(ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])]
        out.append(Grant(role["rules"], ns))
    return out


def _match(allowed: list, value: str) -> bool:
    return "*" in allowed or value in allowed


def allows(grant_list: list[Grant], call: Call) -> bool:
    for g in grant_list:
        if g.namespace is not None and call.namespace != g.namespace:
            continue
        for r in g.rules:
            names = r.get("resourceNames")
            if (_match(r["apiGroups"], call.group) and _match(r["resources"], call.resource)
                    and _match(r["verbs"], call.verb) and (not names or call.name in names)):
                return True
    return False


def granted(grant_list: list[Grant]) -> set[tuple]:
    out = set()
    for g in grant_list:
        for r in g.rules:
            for group in r["apiGroups"]:
                for res in r["resources"]:
                    for verb in r["verbs"]:
                        for name in r.get("resourceNames") or [None]:
                            out.add((verb, group, res, g.namespace, name))
    return out


CASES = {
    "agent": (AGENT, [MANIFESTS / "10-agent-rbac.yaml"], "podid-agent"),
    "agent-secrets": (AGENT_SECRETS, [MANIFESTS / "optional" / "agent-secrets-rbac.yaml"], "podid-agent"),
    "agent-startup-taint": (AGENT_STARTUP_TAINT, [MANIFESTS / "optional" / "agent-startup-taint-rbac.yaml"],
                            "podid-agent"),
    "agent-token-request": (AGENT_TOKEN_REQUEST, [MANIFESTS / "optional" / "agent-token-request-rbac.yaml"],
                            "podid-agent"),
    "controller": (CONTROLLER, [MANIFESTS / "20-controller-rbac.yaml"], "podid-controller"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_call_is_allowed(case):
    listed, files, sa = CASES[case]
    g = grants(files, sa)
    assert g, f"no binding for {sa} in {files}"
    missing = [c for c in listed if not allows(g, c)]
    assert not missing, missing


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rule_is_needed_by_a_listed_call(case):
    listed, files, sa = CASES[case]
    needed = {(c.verb, c.group, c.resource, c.namespace, c.name) for c in listed}
    extra = granted(grants(files, sa)) - needed
    assert not extra, f"granted but not called: {sorted(extra, key=str)}"


@pytest.mark.parametrize("component, listed", [
    ("agent", AGENT + AGENT_SECRETS + AGENT_STARTUP_TAINT + AGENT_TOKEN_REQUEST),
    ("controller", CONTROLLER),
])
def test_sources_name_only_listed_resources(component, listed):
    named = resources_named(component)
    listed_resources = {c.resource.split("/")[0] for c in listed}     # serviceaccounts/token names serviceaccounts
    assert named <= listed_resources, f"{component} code names {named}; list its calls here"
    if component == "agent":
        # The agent's list is complete: every listed resource is one its code names.
        assert listed_resources == named


def test_controller_calls_are_exactly_the_listed_ones():
    made = calls_in_code("controller")
    listed = {(c.verb, c.resource) for c in CONTROLLER}
    assert made == listed, f"called, not listed: {sorted(made - listed)}; listed, not called: {sorted(listed - made)}"


def test_source_scan_finds_path_segments_plurals_and_calls(tmp_path, monkeypatch):
    monkeypatch.setattr("test_rbac.REPO", tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.cpp").write_text('#include "agent/events/x.h"\n'
                                          'auto p = "/api/v1/namespaces/" + ns + "/secrets"; use("pods", q);\n'
                                          'log("nodes are fine"); auto l = "/apis/coordination.k8s.io/v1/leases";')
    (tmp_path / "x" / "a_test.cpp").write_text('"/api/v1/configmaps"')
    monkeypatch.setitem(SOURCES, "probe", ["x"])
    assert resources_named("probe") == {"secrets", "pods", "leases"}
    assert calls_in_code("probe") == set()
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "b.cpp").write_text('constexpr auto kResource = "azureassignedidentities";\n'
                                          'co_await api.call("delete", kResource, p); api.call("get", "leases", p);\n'
                                          'const char* r = "nodes"; api.call("patch", r, p);\n'
                                          'auto q = x ? "pods" : "secrets"; api.call("update", q, p);\n'
                                          'watch(Kind::kNode, "nodes", "/api/v1/nodes");')
    monkeypatch.setitem(SOURCES, "probe", ["y"])
    # A variable assigned one literal resolves to it; any other: every resource the file names.
    named = {"azureassignedidentities", "leases", "nodes", "pods", "secrets"}
    assert calls_in_code("probe") == {("delete", "azureassignedidentities"), ("get", "leases"), ("patch", "nodes"),
                                      ("list", "nodes"), ("watch", "nodes")} | {("update", r) for r in named}


def test_the_agent_daemonset_and_controller_run_as_their_accounts():
    docs = load_docs(MANIFESTS)
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "podid-agent"
    assert deploy["spec"]["template"]["spec"]["serviceAccountName"] == "podid-controller"


def test_kubelets_may_request_only_the_exchange_audience():
    """The one grant the default federated path adds, and to whom: every node, for one audience, nothing else."""
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load_docs(MANIFESTS / "10-agent-rbac.yaml")}
    role = docs[("ClusterRole", "podid-kubelet-token-audience")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["api://AzureADTokenExchange"],
                              "verbs": ["request-serviceaccounts-token-audience"]}]
    binding = docs[("ClusterRoleBinding", "podid-kubelet-token-audience")]
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}]
    assert binding["roleRef"]["name"] == "podid-kubelet-token-audience"
