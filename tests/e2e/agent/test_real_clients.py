# SPDX-License-Identifier: Apache-2.0
"""Real SDKs and tools inside simulated pods, with no endpoint override of any kind: they call
169.254.169.254:80 as on Azure, the kernel hands the connection to podid-agent, and the agent answers with the
pod's own identity. Key Vault end to end: the bound pod reads its secret; a pod with another identity is
refused by the vault's access policy; a pod spoofing the first pod's address gets nothing.

Clients: npm @azure/identity and @azure/keyvault-secrets (tests/harness/node, `npm ci`), Debian python3-azure
(azure-identity 1.13.0b2), Debian azure-cli 2.45.0 (`az login --identity` against the ARM emulator registered
as a custom cloud; see tests/harness/tests_azure_real/test_az_cli_vmss_identity.py for the profile)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import PY_SDK, assert_no_token, az_logged_in, bound_pod

from podid_harness.token_cluster import PYTHON, VAULT, decode_jwt

pytestmark = pytest.mark.real_client

NODE_DIR = Path(__file__).resolve().parents[3] / "tests" / "harness" / "node"
CLUSTER_OPTIONS = {"arm": True}
SECRET = "db-password"


@pytest.fixture(scope="module")
def npm():
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@azure" / "identity").is_dir():
        pytest.fail("npm clients missing: scripts/install-deps (npm ci in tests/harness/node)", pytrace=False)
    return NODE_DIR


def _node(cluster, pod, script: str, cfg: dict, **kw) -> dict:
    out = pod.run(["node", str(NODE_DIR / script), json.dumps(cfg)], env=cluster.pod_env(), timeout=90, **kw)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    assert lines, f"{script}: rc={out.returncode} {out.stdout[-2000:]} {out.stderr[-2000:]}"
    return json.loads(lines[-1])


def _assert_claims(token: str, ident, audience: str = VAULT) -> dict:
    claims = decode_jwt(token)
    assert (claims["oid"], claims["appid"]) == (ident.principal_id, ident.client_id), claims
    assert claims["aud"].rstrip("/") == audience.rstrip("/"), claims
    return claims


# ---- @azure/identity -----------------------------------------------------------------------------------------
def test_npm_managed_identity_credential(cluster, uniq, npm):
    pod, ids = bound_pod(cluster, uniq, identities=2)
    first = min(ids, key=lambda i: (i.namespace, i.name))
    got = _node(cluster, pod, "get_token.mjs", {"credential": "managed", "scope": VAULT + "/.default"})
    assert got["ok"], got
    _assert_claims(got["token"], first)
    got = _node(cluster, pod, "get_token.mjs", {"credential": "managed", "scope": VAULT + "/.default",
                                                "clientId": ids[1].client_id})
    assert got["ok"], got
    _assert_claims(got["token"], ids[1])


def test_npm_default_azure_credential_probe_and_token(cluster, uniq, npm):
    pod, (ident,) = bound_pod(cluster, uniq)
    got = _node(cluster, pod, "get_token.mjs", {"credential": "default", "scope": VAULT + "/.default"})
    assert got["ok"], got
    _assert_claims(got["token"], ident)


def test_npm_unbound_pod_gets_no_token(cluster, uniq, npm):
    pod = cluster.add_pod(uniq("pod"), uniq("ns"))
    got = _node(cluster, pod, "get_token.mjs", {"credential": "managed", "scope": VAULT + "/.default",
                                                "retryOptions": {"maxRetries": 0}})
    assert not got["ok"], got


# ---- Debian python3-azure ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["managed", "default"])
def test_python_azure_identity(cluster, uniq, kind):
    pytest.importorskip("azure.identity")
    pod, ids = bound_pod(cluster, uniq, identities=2)
    first = min(ids, key=lambda i: (i.namespace, i.name))
    out = pod.run([PYTHON, "-c", PY_SDK, kind, ""], env=cluster.pod_env(), timeout=90)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["ok"], (got, out.stderr[-2000:])
    _assert_claims(got["token"], first)
    if kind == "managed":
        out = pod.run([PYTHON, "-c", PY_SDK, kind, ids[1].client_id], env=cluster.pod_env(), timeout=90)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["ok"], (got, out.stderr[-2000:])
        _assert_claims(got["token"], ids[1])


# ---- azure-cli -----------------------------------------------------------------------------------------------
def test_az_login_identity_inside_a_pod(cluster, uniq, tmp_path):
    pod, (ident,) = bound_pod(cluster, uniq)
    sub = cluster.cloud.default_subscription
    cluster.cloud.assign_role(ident.principal_id, "Reader", f"/subscriptions/{sub}")
    az, login = az_logged_in(cluster, pod, tmp_path / "azure")
    assert [a["id"] for a in login] == [sub], login
    token = json.loads(az("account", "get-access-token", "--resource", VAULT))
    _assert_claims(token["accessToken"], ident)
    # ARM saw the identity's own token.
    (listing,) = [e for e in cluster.arm.log.entries(op="GET subscriptions")][-1:]
    claims = decode_jwt(listing.header("authorization").split()[1])
    assert claims["oid"] == ident.principal_id


# ---- Key Vault end to end -----------------------------------------------------------------------------------
def test_key_vault_secret_end_to_end(cluster, uniq, npm):
    ns = uniq("kv")
    reader = cluster.add_identity(ns, "reader")
    other = cluster.add_identity(ns, "other")
    cluster.bind(ns, "reader", reader, f"{ns}-reader")     # selectors are cluster-wide
    cluster.bind(ns, "other", other, f"{ns}-other")
    version = cluster.keyvault.set_secret(SECRET, "hunter2-" + ns)
    cluster.keyvault.allow(reader.principal_id, ["get"])
    app = cluster.add_pod("app", ns, binding=f"{ns}-reader", settle=False)
    intruder = cluster.add_pod("intruder", ns, binding=f"{ns}-other", settle=False)
    spoofer = cluster.add_pod("spoofer", ns, settle=False)      # containerd's default caps include NET_RAW
    cluster.assign(app, reader)
    cluster.assign(intruder, other)
    cluster.settle()
    cfg = {"kind": "managed", "vaultUrl": cluster.keyvault_server.url, "name": SECRET}

    got = _node(cluster, app, "keyvault_get_secret.mjs", cfg)
    assert got["ok"], got
    assert (got["value"], got["version"]) == ("hunter2-" + ns, version.version), got

    denied = _node(cluster, intruder, "keyvault_get_secret.mjs", cfg)
    assert not denied["ok"] and denied["statusCode"] == 403 and denied["code"] == "Forbidden", denied
    assert other.principal_id in denied["message"], denied

    ok_before = [e for e in cluster.keyvault.log.entries() if e.status == 200]
    # The spoofer sends with the app's address as source (IP_TRANSPARENT, allowed by CAP_NET_RAW), to the metadata
    # address and straight to the agent: the kernel attributes the connection to the spoofer's cgroup, and the
    # answers go to the app.
    for host, port in (("169.254.169.254", 80), (cluster.node.agent_addr, cluster.agent.port)):
        r = cluster.http(spoofer, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
                         host=host, port=port, bind=app.ip, freebind=True, transparent=True, cap_net_raw=True,
                         client_timeout=2)
        assert_no_token(r)
    # With its own address the SDK gets no token, so no secret.
    stolen = _node(cluster, spoofer, "keyvault_get_secret.mjs", cfg)
    assert not stolen["ok"], stolen
    assert [e for e in cluster.keyvault.log.entries() if e.status == 200] == ok_before
