# SPDX-License-Identifier: Apache-2.0
"""Federated identities with the real SDKs and tools, inside pods that have no Azure environment variable at all
(no AZURE_CLIENT_ID, no AZURE_FEDERATED_TOKEN_FILE: no webhook ran): they ask 169.254.169.254 as on any VM and get
the federated identity's token, then read a Key Vault secret only that identity may read. Under Azure Workload
Identity's conventions (an annotated service account, a labelled pod) and under podid's CRDs (a federated
AzureIdentity and a binding). Clients: npm @azure/identity + @azure/keyvault-secrets, Debian python3-azure
(ManagedIdentityCredential, DefaultAzureCredential, SecretClient), Debian azure-cli (`az login --identity`)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import PY_SDK, assert_no_token, az_logged_in

from podid_harness.token_cluster import PYTHON, VAULT, decode_jwt

pytestmark = pytest.mark.real_client

NODE_DIR = Path(__file__).resolve().parents[3] / "tests" / "harness" / "node"
CLUSTER_OPTIONS = {"arm": True}
SECRET = "federated-secret"
WI_LABEL = {"azure.workload.identity/use": "true"}



@pytest.fixture(scope="module")
def world(cluster):
    """Pods under both conventions whose identities may read the secret, and one whose identity may not."""
    ns = "fedkv"
    pods, idents = {}, {}
    for convention in ("azwi", "crd", "intruder"):
        sa = f"sa-{convention}"
        ident = cluster.add_federated_identity(ns, f"id-{convention}", subjects=[(ns, sa)],
                                               crd=convention == "crd")
        if convention == "crd":
            cluster.service_account(ns, sa)
            cluster.bind(ns, "bind-crd", ident, f"{ns}-crd")
            pods[convention] = cluster.add_pod(f"pod-{convention}", ns, binding=f"{ns}-crd", service_account=sa,
                                               settle=False)
        else:
            cluster.service_account(ns, sa, client_id=ident.client_id)
            pods[convention] = cluster.add_pod(f"pod-{convention}", ns, labels=WI_LABEL, service_account=sa,
                                               settle=False)
        idents[convention] = ident
    cluster.settle()
    cluster.keyvault.set_secret(SECRET, "only-for-readers")
    for convention in ("azwi", "crd"):
        cluster.keyvault.allow(idents[convention].principal_id, ["get"])
    return pods, idents


def _claims(token: str, ident) -> dict:
    claims = decode_jwt(token)
    assert (claims["oid"], claims["appid"]) == (ident.principal_id, ident.client_id), claims
    assert claims["aud"].rstrip("/") == VAULT
    return claims


def _clean_env(cluster) -> dict:
    """A pod's environment, checked to hold no Azure setting at all."""
    env = cluster.pod_env()
    assert not [k for k in env if k.startswith("AZURE_")], env
    return env


def _node(cluster, pod, script: str, cfg: dict) -> dict:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@azure" / "identity").is_dir():
        pytest.fail("npm clients missing: scripts/install-deps (npm ci in tests/harness/node)", pytrace=False)
    out = pod.run(["node", str(NODE_DIR / script), json.dumps(cfg)], env=_clean_env(cluster), timeout=90)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script}: rc={out.returncode} {out.stdout[-2000:]} {out.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("convention", ["azwi", "crd"])
@pytest.mark.parametrize("credential", ["managed", "default"])
def test_npm_identity_and_key_vault(cluster, world, convention, credential):
    pods, idents = world
    got = _node(cluster, pods[convention], "get_token.mjs", {"credential": credential, "scope": VAULT + "/.default"})
    assert got["ok"], got
    _claims(got["token"], idents[convention])
    secret = _node(cluster, pods[convention], "keyvault_get_secret.mjs",
                   {"kind": "managed", "vaultUrl": cluster.keyvault_server.url, "name": SECRET})
    assert secret["ok"] and secret["value"] == "only-for-readers", secret


def test_npm_intruder_has_its_own_identity_which_the_vault_refuses(cluster, world):
    pods, idents = world
    got = _node(cluster, pods["intruder"], "get_token.mjs", {"credential": "managed", "scope": VAULT + "/.default"})
    assert got["ok"], got
    _claims(got["token"], idents["intruder"])
    denied = _node(cluster, pods["intruder"], "keyvault_get_secret.mjs",
                   {"kind": "managed", "vaultUrl": cluster.keyvault_server.url, "name": SECRET})
    assert not denied["ok"] and denied["statusCode"] == 403, denied
    assert idents["intruder"].principal_id in denied["message"], denied


@pytest.mark.parametrize("convention", ["azwi", "crd"])
@pytest.mark.parametrize("kind", ["managed", "default"])
def test_python_azure_identity_and_key_vault(cluster, world, convention, kind):
    pytest.importorskip("azure.identity")
    pytest.importorskip("azure.keyvault.secrets")
    pods, idents = world
    out = pods[convention].run([PYTHON, "-c", PY_SDK, kind, "", cluster.keyvault_server.url, SECRET],
                               env=_clean_env(cluster), timeout=120)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["ok"], (got, out.stderr[-2000:])
    _claims(got["token"], idents[convention])
    assert got["value"] == "only-for-readers"


@pytest.mark.parametrize("convention", ["azwi", "crd"])
def test_az_login_identity(cluster, world, convention, tmp_path):
    pods, idents = world
    pod, ident = pods[convention], idents[convention]
    sub = cluster.cloud.default_subscription
    cluster.cloud.assign_role(ident.principal_id, "Reader", f"/subscriptions/{sub}")
    az, login = az_logged_in(cluster, pod, tmp_path / "azure", env=_clean_env(cluster))
    assert [a["id"] for a in login] == [sub], login
    token = json.loads(az("account", "get-access-token", "--resource", VAULT))
    _claims(token["accessToken"], ident)


def test_nothing_for_a_labelled_pod_whose_account_names_no_identity(cluster, world):
    pod = cluster.add_pod("pod-unannotated", "fedkv", labels=WI_LABEL)       # the namespace's default account
    got = _node(cluster, pod, "get_token.mjs", {"credential": "managed", "scope": VAULT + "/.default",
                                                "retryOptions": {"maxRetries": 0}})
    assert not got["ok"] and "azure.workload.identity/client-id" in got["message"], got
    assert_no_token(cluster.token(pod))
