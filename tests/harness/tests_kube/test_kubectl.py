# SPDX-License-Identifier: Apache-2.0
"""The stand-in driven by a real kubectl (Debian's kubernetes-client 1.20 is the target; PODID_KUBECTL picks
the binary, otherwise `kubectl` on PATH). kubectl sees only a kubeconfig written here, with HOME in a temporary
directory, so it never reads the user's configuration or reaches another server."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_client

FIXTURES = Path(__file__).parent / "fixtures"
CRDS = sorted(str(p) for p in FIXTURES.glob("*-crd.yaml"))


@pytest.fixture
def kubectl(api, tmp_path):
    binary = os.environ.get("PODID_KUBECTL") or shutil.which("kubectl")
    if not binary:
        pytest.skip("kubectl not found (apt-get install kubernetes-client, or set PODID_KUBECTL)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "KUBECONFIG": api.kubeconfig(tmp_path / "kubeconfig")}

    def run(*args, token=None, check=True, stdin=None):
        e = dict(env)
        if token:
            e["KUBECONFIG"] = api.kubeconfig(tmp_path / "kubeconfig-user", token=token)
        r = subprocess.run([binary, *args], env=e, capture_output=True, text=True, timeout=60, input=stdin)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r
    run.binary, run.env = binary, env
    return run


def test_apply_get_describe_delete(api, kubectl):
    out = kubectl("apply", *sum((["-f", c] for c in CRDS), [])).stdout
    assert out.count("created") == 4
    assert "azureidentities.aadpodidentity.k8s.io" in kubectl("get", "crd").stdout
    out = kubectl("apply", "-f", str(FIXTURES / "identity.yaml"), "-f", str(FIXTURES / "binding.yaml")).stdout
    assert "azureidentity.aadpodidentity.k8s.io/web-identity created" in out

    table = kubectl("get", "azureidentities").stdout.splitlines()
    assert re.split(r"\s{2,}", table[0].strip()) == ["NAME", "TYPE", "CLIENTID", "AGE"]
    assert re.split(r"\s{2,}", table[1].strip())[:3] == ["web-identity", "0", "11111111-2222-3333-4444-555555555555"]
    table = kubectl("get", "azureidentitybindings").stdout.splitlines()
    assert re.split(r"\s{2,}", table[0].strip()) == ["NAME", "AZUREIDENTITY", "SELECTOR", "AGE"]
    assert re.split(r"\s{2,}", table[1].strip())[:3] == ["web-binding", "web-identity", "web"]

    described = kubectl("describe", "azureidentity", "web-identity").stdout
    assert "Kind:         AzureIdentity" in described and "Client ID:" in described

    # Apply again with a change: kubectl computes a JSON merge patch for a custom resource.
    changed = (FIXTURES / "binding.yaml").read_text().replace("selector: web", "selector: web-v2")
    out = kubectl("apply", "-f", "-", stdin=changed).stdout
    assert "configured" in out
    patches = api.requests(verb="patch", resource="azureidentitybindings")
    assert patches and patches[-1]["code"] == 200
    assert api.get("azureidentitybindings", "web-binding")["spec"]["selector"] == "web-v2"
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=changed).stdout

    assert "deleted" in kubectl("delete", "-f", str(FIXTURES / "identity.yaml")).stdout
    assert api.find("azureidentities", "web-identity") is None
    assert "No resources found" in kubectl("get", "azureidentities").stdout + \
        kubectl("get", "azureidentities").stderr


def test_apply_builtin_twice_uses_strategic_merge(api, kubectl):
    manifest = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {aadpodidbinding: web}\nspec:\n"
                "  containers:\n  - name: app\n    image: busybox\n    env: [{name: A, value: \"%s\"}]\n")
    kubectl("apply", "-f", "-", stdin=manifest % "1")
    kubectl("apply", "-f", "-", stdin=manifest % "2")
    assert api.get("pods", "web")["spec"]["containers"][0]["env"] == [{"name": "A", "value": "2"}]
    out = kubectl("get", "pods", "-o", "wide").stdout
    assert re.split(r"\s{2,}", out.splitlines()[0].strip())[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]


def test_get_watch_sees_change(api, kubectl):
    kubectl("apply", *sum((["-f", c] for c in CRDS), []))
    kubectl("apply", "-f", str(FIXTURES / "identity.yaml"))
    proc = subprocess.Popen([kubectl.binary, "get", "azureidentities", "-w"], env=kubectl.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not any("watch" == e.get("verb") for e in api.request_log) and time.monotonic() < deadline:
            time.sleep(0.05)
        api.patch("azureidentities", "web-identity", {"spec": {"clientID": "rotated-client-id"}})
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "rotated-client-id" in line:
                break
        assert any("rotated-client-id" in line and line.startswith("web-identity") for line in lines), lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_forbidden_surfaces_in_kubectl(api, kubectl):
    token = api.add_token("podid-agent", [("get", "", "pods")])
    r = kubectl("get", "nodes", token=token, check=False)
    assert r.returncode != 0
    assert 'nodes is forbidden: User "podid-agent" cannot list resource "nodes" in API group "" at the ' \
           'cluster scope' in r.stderr
    r = kubectl("get", "secrets", "-n", "kube-system", token=token, check=False)
    assert 'secrets is forbidden: User "podid-agent" cannot list resource "secrets" in API group "" in the ' \
           'namespace "kube-system"' in r.stderr
