# SPDX-License-Identifier: Apache-2.0
"""Every command in the user documentation is either run here or marked `# azure-only` (doc_blocks.py says
how blocks are marked). What runs, and against what:

  - ```sh blocks of kubectl (and podid doctor / explain) commands: bash -euo pipefail, with only kubectl and
    the built podid on PATH, against the harness's
    Kubernetes API stand-in holding podid's deploy manifests (README.md applies them itself, as a user
    would); Azure values the quickstart gets from `az` are fake here (FAKE_AZURE);
  - the README's set-up commands: scripts/demo runs its scenario (root), scripts/test is CI's entry point;
  - ```yaml blocks and deploy/network-policies/*.yaml: parsed, applied to the stand-in;
  - ```json blocks (audit lines): the fields the agent's code writes;
  - ```promql blocks: promtool checks the syntax, and every metric they name exists in the code;
  - flag, Helm value, metric and test names the docs mention exist, and links resolve (repository paths:
    test_doc_paths.py).

Types the stand-in does not serve (apps/v1 DaemonSet, core Services, networking.k8s.io NetworkPolicy,
Calico, Cilium...) are registered with it first, so kubectl can apply them; the stand-in checks names,
namespaces and kinds of those, not their specs. Nothing here reaches Azure or a cluster: the session runs in an isolated network
namespace (ctest: ISOLATED_NETNS) and the stand-in listens on loopback."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
import yaml

from doc_blocks import AZURE_ONLY, DOCS, LANGUAGES, ROOT, Block, all_blocks, blocks, doc_checks, \
    shell_variables_set, shell_variables_used
from podid_harness.kube import KubeApiServer
from podid_harness.kube.errors import ApiError
from podid_harness.kube.resources import ResourceType

README = ROOT / "README.md"
BUILD = Path(os.environ.get("PODID_BUILD_DIR", ROOT / "build"))
PODID = BUILD / "cli" / "podid"
METRICS_DOC = ROOT / "docs" / "metrics.md"
MIGRATION_DOC = ROOT / "docs" / "migrating-from-aad-pod-identity.md"
POLICIES = ROOT / "deploy" / "network-policies"

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
SHELL_BUILTIN_VARIABLES = {"RANDOM", "HOME", "PATH"}

# First words of commands a runnable block may use; anything else must be marked azure-only.
RUNNABLE_WORDS = {"kubectl", "podid", "while", "read", "do", "done", "for", "in", "if", "then", "else", "fi", "echo",
                  "test", "[", "true", "false"}
SCRIPTS = {"scripts/demo", "scripts/test"}

CLUSTER_SCOPED_KINDS = {"ClusterRole", "ClusterRoleBinding", "PriorityClass", "GlobalNetworkPolicy",
                        "CiliumClusterwideNetworkPolicy", "ValidatingWebhookConfiguration",
                        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                        "ValidatingAdmissionPolicyBinding", "RuntimeClass", "StorageClass", "APIService"}


# ---- helpers ---------------------------------------------------------------------------------------------------
def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def runnable_shell_blocks(doc: Path) -> list[Block]:
    return [b for b in blocks(doc) if b.lang == "sh" and not b.azure_only]


def is_scripts_block(b: Block) -> bool:
    return bool(command_words(b.text) & SCRIPTS)


def command_words(script: str) -> set[str]:
    """First words of the commands of a script: heredoc bodies and comments skipped, continuations joined,
    split at |, ||, &&, ;, `do` and `then`, leading VAR=value assignments dropped."""
    words: set[str] = set()
    lines = script.splitlines()
    logical, i = [], 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i]
        logical.append(line)
        i += 1
        if heredoc:
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                i += 1
            i += 1
    for line in logical:
        line = re.sub(r"(^|\s)#.*$", "", re.sub(r"'[^']*'", "''", line))
        for part in re.split(r"\|\||&&|[|;]|\$\(|\bdo\b|\bthen\b", line):
            tokens = [t for t in part.split() if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t)]
            if tokens and tokens[0] not in (")", "}"):
                words.add(tokens[0])
    return words


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


# ---- the stand-in and kubectl ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kubectl_binary() -> str:
    # As scripts/test: Debian's kubernetes-client (1.20) when installed, the stand-in's target; kubectl 1.32
    # sends `create namespace` as protobuf, which the stand-in does not decode.
    debian = Path("/opt/podid/kubernetes-client/usr/bin/kubectl")
    binary = os.environ.get("PODID_KUBECTL") or (str(debian) if debian.exists() else shutil.which("kubectl"))
    if not binary:
        pytest.fail("kubectl not found (scripts/install-deps installs it; or set PODID_KUBECTL)", pytrace=False)
    return binary


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


@pytest.fixture
def cluster(tmp_path, kubectl_binary) -> Iterator[Shell]:
    with KubeApiServer.start() as api:
        register_missing_types(api, every_object_the_docs_apply())
        yield Shell(api, kubectl_binary, tmp_path)


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


# ---- doc-checks: set-up before and assertions after the marked block ----------------------------------------
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


# ---- every block is marked ----------------------------------------------------------------------------------
def test_every_block_names_a_known_language():
    bad = [f"{b.where}: ```{b.lang}" for b in all_blocks() if b.lang not in LANGUAGES]
    assert not bad, f"fenced blocks must be one of {sorted(LANGUAGES)} (```text for diagrams): {bad}"


def test_every_shell_block_is_run_here_or_marked_azure_only():
    unmarked = []
    for b in all_blocks():
        if b.lang != "sh" or b.azure_only:
            continue
        words = command_words(b.text)
        if words & SCRIPTS:
            if words - SCRIPTS:
                unmarked.append(f"{b.where}: scripts/ commands share a block with {sorted(words - SCRIPTS)}")
            continue
        if words - RUNNABLE_WORDS:
            unmarked.append(f"{b.where}: {sorted(words - RUNNABLE_WORDS)}")
    assert not unmarked, "commands this test cannot run; start the block with `# azure-only` or teach " \
                         f"test_doc_commands.py to run them: {unmarked}"


def test_doc_checks_name_known_checks_and_mark_blocks():
    for doc in DOCS:
        marked = [b.check for b in blocks(doc) if b.check]
        for name in doc_checks(doc):
            assert name in CHECKS, f"{rel(doc)}: unknown doc-check {name!r}"
            assert name in marked, f"{rel(doc)}: doc-check {name!r} is not followed by a block"
    assert {b.check for b in all_blocks() if b.check} == set(CHECKS), "a check in CHECKS is used nowhere"


def test_the_quickstart_can_be_followed_top_to_bottom():
    """Every variable a README block uses was set by an earlier block (a reader has it in their shell)."""
    have = set(SHELL_BUILTIN_VARIABLES)
    for b in blocks(README):
        if b.lang != "sh":
            continue
        missing = shell_variables_used(b.text) - have - shell_variables_set(b.text)
        assert not missing, f"{b.where}: {sorted(missing)} used before any block sets them"
        have |= shell_variables_set(b.text)
    assert set(FAKE_AZURE) <= have, sorted(set(FAKE_AZURE) - have)


# ---- running them -------------------------------------------------------------------------------------------
DOCS_WITH_COMMANDS = [d for d in DOCS if any(not is_scripts_block(b) for b in runnable_shell_blocks(d))
                      or any(b.lang == "yaml" for b in blocks(d))]


@pytest.mark.parametrize("doc", DOCS_WITH_COMMANDS, ids=rel)
def test_doc_commands_run_against_the_api_stand_in(doc, cluster):
    api = cluster.api
    if doc != README:
        apply_deploy(cluster)       # the README installs podid itself
        seed_quickstart(api)
    ran = 0
    for b in blocks(doc):
        if b.lang == "yaml":
            objs = [o for o in yaml.safe_load_all(b.text) if isinstance(o, dict)]
            assert objs, f"{b.where}: empty YAML block"
            if any("kind" in o for o in objs):
                cluster.run("kubectl apply -f - <<'EOF'\n" + b.text + "EOF\n", b.where)
            ran += 1
            continue
        if b.lang != "sh" or b.azure_only or is_scripts_block(b):
            continue
        missing = shell_variables_used(b.text) - set(cluster.env) - shell_variables_set(b.text)
        assert not missing, f"{b.where}: no value for {sorted(missing)} here (add it to FAKE_AZURE)"
        before, after = CHECKS.get(b.check, (None, None)) if b.check else (None, None)
        if before:
            before(api)
        out = cluster.run(b.text, b.where)
        if after:
            after(api, out)
        ran += 1
    assert ran, f"{rel(doc)}: nothing ran"


def test_readme_setup_commands():
    """`scripts/demo` is run (its scenario: scripts/demo installs and builds first, which ctest has done);
    `scripts/test` runs every test, this one included: what is checked is that CI runs exactly it."""
    (setup,) = [b for b in runnable_shell_blocks(README) if is_scripts_block(b)]
    assert command_words(setup.text) == SCRIPTS, setup.text
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec scripts/test\s*$", ci, re.M), ".ci/run no longer runs scripts/test"
    for script in SCRIPTS:
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"
    if os.geteuid() != 0:
        pytest.skip("scripts/demo needs root (network namespaces, cgroups, BPF)")
    if not (BUILD / "agent" / "podid-agent").exists():
        pytest.fail(f"no podid-agent in {BUILD}: build first", pytrace=False)
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "demo.py")], cwd=ROOT,
                       env={**os.environ, "PODID_BUILD_DIR": str(BUILD)}, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, f"scripts/demo.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


# ---- network policies --------------------------------------------------------------------------------------
def agent_default_address() -> tuple[str, int]:
    header = (ROOT / "agent" / "config.h").read_text()
    addr = re.search(r'kDefaultAgentAddress\s*=\s*"([0-9.]+)"', header).group(1)
    port = int(re.search(r"kDefaultAgentPort\s*=\s*(\d+)", header).group(1))
    return addr, port


def policy_allows(obj: dict) -> list[tuple[str, str, int]]:
    """(destination, protocol, port) of each egress allow, whatever the policy dialect; raises on a rule
    without ports (it would allow more than the agent)."""
    kind, spec, out = obj["kind"], obj.get("spec") or {}, []
    if kind == "NetworkPolicy" and obj["apiVersion"].startswith("networking.k8s.io/"):
        assert spec.get("policyTypes") == ["Egress"], obj
        for rule in spec.get("egress") or []:
            assert rule.get("ports"), f"{kind}: an egress rule without ports"
            for to in rule.get("to") or []:
                for p in rule["ports"]:
                    out.append((to["ipBlock"]["cidr"], p["protocol"], int(p["port"])))
    elif obj["apiVersion"].startswith("projectcalico.org/"):
        assert spec.get("types") == ["Egress"], obj
        for rule in spec.get("egress") or []:
            assert rule["action"] == "Allow" and rule["destination"].get("ports"), rule
            for net in rule["destination"]["nets"]:
                for port in rule["destination"]["ports"]:
                    out.append((net, rule["protocol"], int(port)))
    elif obj["apiVersion"].startswith("cilium.io/"):
        for rule in spec.get("egress") or []:
            assert rule.get("toPorts"), f"{kind}: an egress rule without toPorts"
            dests = rule.get("toCIDR") or [f"entity:{e}" for e in rule.get("toEntities") or []]
            assert dests, rule
            for d in dests:
                for tp in rule["toPorts"]:
                    for p in tp["ports"]:
                        out.append((d, p["protocol"], int(p["port"])))
    else:
        raise AssertionError(f"not a network policy this test knows: {obj['apiVersion']} {kind}")
    return out


def test_network_policies_allow_exactly_the_agents_address_and_port():
    addr, port = agent_default_address()
    files = sorted(POLICIES.glob("*.yaml"))
    assert {f.name for f in files} >= {"kubernetes-networkpolicy.yaml", "calico-networkpolicy.yaml",
                                       "cilium-networkpolicy.yaml"}
    files += sorted((ROOT / "deploy" / "manifests" / "optional").glob("networkpolicy*.yaml"))
    for f in files:
        objs = manifest_objects(f)
        assert objs, f.name
        for obj in objs:
            allows = policy_allows(obj)
            assert allows, f"{f.name}: {obj['kind']} allows nothing"
            for dest, proto, p in allows:
                assert (proto, p) == ("TCP", port), (f.name, obj["kind"], dest, proto, p)
                assert dest in (f"{addr}/32", "entity:host"), (f.name, obj["kind"], dest)
            assert (f"{addr}/32", "TCP", port) in allows, (f.name, obj["kind"], allows)


def test_network_policies_apply_to_the_api_stand_in(cluster):
    cluster.run("kubectl create namespace demo && kubectl apply -f deploy/network-policies/", "network-policies")
    for obj in manifest_objects(POLICIES):
        plural, name, ns = name_of(cluster.api, obj)
        assert cluster.api.find(plural, name, ns) is not None, f"{obj['kind']} {ns}/{name} not created"


# ---- names the docs mention exist ---------------------------------------------------------------------------
def code_metric_names(*dirs: str) -> set[str]:
    names = set()
    for d in dirs:
        for f in (ROOT / d).rglob("*"):
            if f.suffix in (".cpp", ".h"):
                names |= set(re.findall(r'\.Name\("([a-z_:][a-z0-9_:]*)"\)', f.read_text(errors="replace")))
    return names


def documented_metrics(section: str) -> set[str]:
    """Metric names in the first column of the tables under a `## ` heading of docs/metrics.md."""
    text = METRICS_DOC.read_text()
    m = re.search(rf"^## {re.escape(section)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"docs/metrics.md has no section {section!r}"
    return set(re.findall(r"^\| `([a-z_][a-z0-9_]*)` \|", m.group(1), re.M))


def test_every_agent_metric_is_documented_and_every_documented_one_exists():
    code = code_metric_names("agent", "common")
    assert code, "no metric registrations found in agent/ or common/"
    doc = documented_metrics("podid-agent")
    assert code - doc == set(), f"registered but not in docs/metrics.md: {sorted(code - doc)}"
    assert doc - code == set(), f"in docs/metrics.md but registered nowhere: {sorted(doc - code)}"


def test_every_controller_metric_is_documented_and_every_documented_one_exists():
    code = code_metric_names("controller")
    assert code, "no metric registrations found in controller/"
    doc = documented_metrics("podid-controller")
    assert code - doc == set(), f"controller metrics missing from docs/metrics.md: {sorted(code - doc)}"
    assert doc - code == set(), f"in docs/metrics.md but registered nowhere: {sorted(doc - code)}"


def test_promql_queries_parse_and_name_real_metrics(tmp_path):
    queries = [b for b in all_blocks() if b.lang == "promql"]
    assert queries, "no PromQL examples"
    known = code_metric_names("agent", "common", "controller")
    rules = {"groups": [{"name": "docs", "rules": [{"record": f"docs:query_{i}", "expr": b.text.strip()}
                                                   for i, b in enumerate(queries)]}]}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing (Debian prometheus; scripts/install-deps)", pytrace=False)
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for b in queries:
        for name in re.findall(r"\b((?:podid|aadpodidentity)_[a-z0-9_]+)", b.text):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in known or base in known, f"{b.where}: {name} is not a metric podid exports"


def audit_fields_in_code() -> dict[str, set[str]]:
    audit = (ROOT / "agent" / "serve" / "audit.cpp").read_text()
    deny = (ROOT / "agent" / "bpf" / "imds_redirect_deny_events.cpp").read_text()
    head = {"ts", "level", "msg"}
    token = head | {"audit"} | set(re.findall(r'member\(m, "([a-z_]+)"', audit))
    initializer = re.search(r"nlohmann::json fields = \{(.*?)\n  \};", deny, re.S).group(1)
    denied = head | set(re.findall(r'\{"([a-z_]+)", ', initializer)) | \
        set(re.findall(r'fields\["([a-z_]+)"\]', deny))
    return {"token decision": token, "denied": denied}


def optional_audit_fields() -> set[str]:
    """Token-decision fields written only in some cases (`if (...) member(m, "subject", ...)`)."""
    audit = (ROOT / "agent" / "serve" / "audit.cpp").read_text()
    return set(re.findall(r'if \([^;]*\) member\(m, "([a-z_]+)"', audit))


def test_json_examples_are_lines_the_agent_writes():
    fields = audit_fields_in_code()
    assert {"namespace", "pod", "cgroup_id", "decision", "latency_us"} <= fields["token decision"], fields
    examples = [b for b in all_blocks() if b.lang == "json"]
    assert examples
    for b in examples:
        line = json.loads(b.text)
        assert line.get("audit") is True, b.where
        if line["msg"] in fields:
            optional = {"pid", "netns_cookie", "source", "source_mac", "interface", "pod_addresses"}
            required = fields[line["msg"]] - (optional if line["msg"] == "denied" else optional_audit_fields())
            assert set(line) - fields[line["msg"]] == set(), f"{b.where}: fields the agent never writes"
            assert required - set(line) == set(), f"{b.where}: fields missing: {sorted(required - set(line))}"
        else:
            assert line["msg"] in ("connection refused",), f"{b.where}: unknown audit line {line['msg']!r}"
            assert '"connection refused"' in (ROOT / "agent" / "serve" / "admission.cpp").read_text()


def help_flags(binary: Path) -> Optional[set[str]]:
    if not binary.exists():
        return None
    r = subprocess.run([str(binary), "help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None
    return set(re.findall(r"(?m)^\s+(--[a-z][a-z0-9-]*)", r.stdout))


def table_column(doc: Path, heading: str, column: int) -> set[str]:
    """`--flags` (or `values`) in one column of the table under a `## ` heading."""
    text = doc.read_text()
    m = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"{rel(doc)}: no section {heading!r}"
    cells = []
    for row in m.group(1).splitlines():
        if row.startswith("|") and not re.match(r"^\|\s*-", row):
            parts = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
            if len(parts) > column:
                cells.append(parts[column])
    return set(re.findall(r"`([^`]+)`", "\n".join(cells[1:])))


def flags_in(cells: set[str]) -> set[str]:
    return {m.group(0) for c in cells for m in [re.match(r"--[a-z][a-z0-9-]*", c)] if m}


def test_agent_flags_in_the_migration_guide_are_the_agents():
    binary = BUILD / "agent" / "podid-agent"
    real = help_flags(binary)
    if real is None:
        pytest.fail(f"{binary} missing or `help` failed: build podid-agent first", pytrace=False)
    documented = flags_in(table_column(MIGRATION_DOC, "Flags: NMI -> podid-agent", 1))
    assert documented - real == set(), f"not flags of podid-agent: {sorted(documented - real)}"
    assert real - documented == set(), f"podid-agent flags missing from the guide: {sorted(real - documented)}"


def test_controller_flags_in_the_migration_guide_are_the_controllers():
    binary = BUILD / "controller" / "podid-controller"
    real = help_flags(binary)
    if real is None:
        pytest.fail(f"{binary} missing or `help` failed: build podid-controller first", pytrace=False)
    documented = flags_in(table_column(MIGRATION_DOC, "Flags: MIC -> podid-controller", 1))
    assert documented - real == set(), f"not flags of podid-controller: {sorted(documented - real)}"
    assert real - documented == set(), \
        f"podid-controller flags missing from the guide: {sorted(real - documented)}"


def table_rows(doc: Path, heading: str, header: str) -> list[list[str]]:
    """The body rows (cells stripped) of the table whose header row is `header`, under a `## ` heading."""
    text = doc.read_text()
    m = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"{rel(doc)}: no section {heading!r}"
    lines = m.group(1).splitlines()
    assert header in lines, f"{rel(doc)}: no table {header!r} under {heading!r}"
    rows = []
    for row in lines[lines.index(header) + 2:]:
        if not row.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]])
    return rows


def string_literals(*paths: str) -> set[str]:
    out = set()
    for p in paths:
        files = [ROOT / p] if (ROOT / p).is_file() else \
            sorted(f for f in (ROOT / p).rglob("*") if f.suffix in (".cpp", ".h"))
        for f in files:
            out |= set(re.findall(r'"((?:[^"\\]|\\.)*)"', f.read_text(errors="replace")))
    return out


def test_controller_events_and_conditions_in_the_docs_are_the_ones_it_writes():
    doc, heading = ROOT / "docs" / "troubleshooting.md", "The controller: events, conditions and ARM errors"
    # What a round writes is decided in controller/round/ (round_interpretation.cpp, event_aggregator.cpp).
    round_files = sorted((ROOT / "controller" / "round").glob("*.cpp"))
    round_literals = string_literals("controller/round")
    events = table_rows(doc, heading, "| type | reason | message |")
    assert events, "no Event table"
    for kind, reason, _ in events:
        assert kind in ("Normal", "Warning"), kind
        name = reason.strip("`")
        assert name in round_literals, f"Event reason {name!r}: controller/round/ posts no such Event"
        assert any(f'"{name}"' in f.read_text() and f"EventType::k{kind}" in f.read_text() for f in round_files), \
            f"{name!r} is not posted as {kind}"
    # Condition reasons: the controller's own words are literals of controller/round/; ARM's codes are passed
    # through, and those the docs name are ones the ARM error parser handles.
    reasons = [r[0].strip("`") for r in table_rows(doc, heading, "| reason | what happened |")
               if r[0].startswith("`")]
    assert {"Throttled", "AssignmentPending", "LinkedAuthorizationFailed"} <= set(reasons), reasons
    arm_literals = string_literals("controller/arm")
    for reason in reasons:
        assert reason in round_literals or reason in arm_literals, f"condition reason {reason!r} comes from nowhere"
    code = "".join(f.read_text() for f in round_files)
    assert '.type = "Assigned"' in code and '.reason = "Assigned"' in code, "the condition's type or reason changed"
    assert '" Fix: "' in code, "the condition message no longer carries the fix"
    problems = [r[0].strip("`") for r in table_rows(doc, heading, "| reason | on | cause |")]
    code_problems = set(re.findall(r'kReason\w+ = "(\w+)"', (ROOT / "controller/state/desired_state.h").read_text()))
    assert code_problems, "no kReason constants in controller/state/desired_state.h"
    assert set(problems) == code_problems, f"documented {sorted(problems)}, the controller reports {sorted(code_problems)}"


def helm_values() -> Optional[dict]:
    path = ROOT / "deploy" / "helm" / "podid" / "values.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def test_helm_values_in_the_migration_guide_exist_in_the_chart():
    values = helm_values()
    assert values is not None, "deploy/helm/podid/values.yaml is missing but the docs describe it"
    documented = {c for c in table_column(MIGRATION_DOC, "Helm values: aad-pod-identity chart -> podid chart", 1)
                  if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*", c)}
    assert documented, "no chart values in the mapping"
    missing = []
    for path in sorted(documented):
        node = values
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                missing.append(path)
                break
            node = node[key]
    assert not missing, f"values the guide names but deploy/helm/podid/values.yaml lacks: {missing}"
    for b in all_blocks():
        for path in re.findall(r"--set ([A-Za-z][\w.]*)=", b.text):
            node = values
            for key in path.split("."):
                assert isinstance(node, dict) and key in node, f"{b.where}: --set {path}: no such chart value"
                node = node[key]


def test_named_tests_exist():
    refs = set()
    for doc in DOCS:
        refs |= set(re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", doc.read_text()))
    assert refs, "the docs name no tests"
    missing = [f"{f}::{t}" for f, t in sorted(refs)
               if not (ROOT / f).exists() or not re.search(rf"^def {t}\(", (ROOT / f).read_text(), re.M)]
    assert not missing, f"tests named in the docs that do not exist: {missing}"


def github_anchor(heading: str) -> str:
    a = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return a.replace(" ", "-")


def test_links_resolve():
    broken = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{rel(doc)}: {target}")
            elif anchor and dest.suffix == ".md":
                anchors = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)}
                if anchor not in anchors:
                    broken.append(f"{rel(doc)}: {target} (no such heading)")
    assert not broken, broken


# ---- what the README names exists ---------------------------------------------------------------------------
def usage_commands(binary: Path) -> Optional[set[str]]:
    """The commands a binary's usage text lists (`podid-agent help`), or None when it is not built."""
    if not binary.exists():
        return None
    text = subprocess.run([str(binary), "help"], capture_output=True, text=True, timeout=30).stdout
    listed = re.search(r"^commands:\n(.*?)\n\n", text, re.M | re.S)
    if listed:
        return set(re.findall(r"^  ([a-z]+)\s", listed.group(1), re.M))
    synopsis = re.search(r"^usage: \S+ \[([a-z|]+)\]", text, re.M)
    return set(synopsis.group(1).split("|")) if synopsis else set()


@pytest.mark.parametrize("name,binary", [("podid-agent", BUILD / "agent" / "podid-agent"),
                                         ("podid-controller", BUILD / "controller" / "podid-controller")])
def test_commands_the_readme_names_are_in_the_binaries_usage(name, binary):
    named = set(re.findall(rf"^{name} ([a-z]+)\b", README.read_text(), re.M))
    assert named, f"README shows no {name} command"
    listed = usage_commands(binary)
    if listed is None:
        pytest.fail(f"{binary} missing: build {name} first", pytrace=False)
    assert named <= listed, f"README names {sorted(named - listed)}, which `{name} help` does not list"


def test_ctest_names_and_labels_the_docs_use_exist():
    r = subprocess.run(["ctest", "-N", "--show-only=json-v1"], cwd=BUILD, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.fail(f"ctest -N in {BUILD} failed: configure the build first\n{r.stderr}", pytrace=False)
    tests = json.loads(r.stdout)["tests"]
    names = {t["name"] for t in tests}
    labels = {label for t in tests for p in t.get("properties", []) if p["name"] == "LABELS" for label in p["value"]}
    # Tests registered only on request (cmake -D...=ON), which the docs may name with how to turn them on.
    optional = {"deploy_image_run": "PODID_IMAGE_TESTS"}
    for doc in DOCS:
        text = doc.read_text()
        for label in re.findall(r"ctest[^`\n]*? -L ([\w-]+)", text):
            assert label in labels, f"{rel(doc)}: ctest -L {label}: no test carries that label"
        for regex in re.findall(r"ctest[^`\n]*? -R ([\w|]+)", text):
            if regex in optional:
                assert optional[regex] in text, f"{rel(doc)}: {regex} needs -D{optional[regex]}=ON, say so"
                continue
            assert any(re.search(regex, n) for n in names), f"{rel(doc)}: ctest -R {regex} selects no test"
