# SPDX-License-Identifier: Apache-2.0
"""Assertions and set-ups shared by the agent's end-to-end tests."""
from __future__ import annotations

import json
import shutil
from typing import Callable, Optional

import pytest

from podid_harness.token_cluster import VAULT, HttpResult, IdentityRef, TokenCluster

TOKEN_FIELDS = {"access_token", "refresh_token", "expires_in", "expires_on", "ext_expires_in", "not_before",
                "resource", "token_type", "client_id"}
IDENTITY_NOT_FOUND = {"error": "invalid_request", "error_description": "Identity not found"}


def bound_pod(c: TokenCluster, uniq, *, ns: Optional[str] = None, identities: int = 1, state: str = "Assigned",
              settle: bool = True):
    """A pod in `ns` (new by default) bound to `identities` new identities, each assigned in `state`."""
    ns = ns or uniq("ns")
    selector = uniq("sel")
    ids = [c.add_identity(ns, uniq("id")) for _ in range(identities)]
    for ident in ids:
        c.bind(ns, uniq("bind"), ident, selector)
    pod = c.add_pod(uniq("pod"), ns, binding=selector, settle=False)
    for ident in ids:
        c.assign(pod, ident, state)
    if settle:
        c.settle()
    return pod, ids


def assert_token_for(r: HttpResult, ident: IdentityRef, resource: str = VAULT) -> dict:
    """A 200 in IMDS's format whose token is `ident`'s for `resource`; returns the claims."""
    assert r.status == 200, str(r)
    body = r.json()
    assert set(body) == TOKEN_FIELDS, body.keys()
    assert all(isinstance(v, str) for v in body.values()), body
    assert body["token_type"] == "Bearer" and body["resource"] == resource, body
    assert body["client_id"].lower() == ident.client_id.lower(), (body["client_id"], ident)
    claims = r.claims()
    assert (claims["oid"], claims["appid"]) == (ident.principal_id, ident.client_id), (claims, ident)
    assert claims["aud"] == resource, claims
    assert int(body["expires_on"]) == claims["exp"], (body, claims)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    return claims


def assert_no_token(r: HttpResult) -> None:
    assert r.status != 200, str(r)
    assert "access_token" not in r.body, str(r)


def assert_identity_not_found(r: HttpResult) -> None:
    assert r.status == 400, str(r)
    assert json.loads(r.body) == IDENTITY_NOT_FOUND, str(r)


def json_error(r: HttpResult) -> dict:
    try:
        body = json.loads(r.body)
    except ValueError:
        raise AssertionError(f"error answer is not JSON: {r}") from None
    assert isinstance(body, dict) and "error" in body, str(r)
    return body


def az_logged_in(c: TokenCluster, pod, config_dir, env: Optional[dict] = None) -> tuple[Callable[..., str], list]:
    """Debian's azure-cli inside `pod`, pointed at the ARM emulator as a custom cloud, after `az login --identity`
    (which asks 169.254.169.254 like any SDK): the `az` runner and what the login printed."""
    if shutil.which("az") is None:
        pytest.fail("azure-cli missing: scripts/install-deps", pytrace=False)
    env = dict(env if env is not None else c.pod_env())
    env.update(AZURE_CONFIG_DIR=str(config_dir), AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_OUTPUT="json")

    def az(*args: str) -> str:
        out = pod.run(["az", *args], env=env, timeout=180)
        assert out.returncode == 0, f"az {' '.join(args)}: {out.stderr[-3000:]}"
        return out.stdout

    az("cloud", "register", "-n", "PodidE2E", "--profile", "2020-09-01-hybrid",
       "--endpoint-resource-manager", c.arm_server.url + "/",
       "--endpoint-active-directory", "https://login.microsoftonline.com",
       "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
       "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
       "--endpoint-management", "https://management.core.windows.net/")
    az("cloud", "set", "-n", "PodidE2E")
    return az, json.loads(az("login", "--identity"))


# Debian's python3-azure inside a pod: `python3 -c PY_SDK <managed|default> <client id or ""> [<vault url> <secret>]`
# prints one JSON line: the token for Key Vault and, given a vault, the secret read with the same credential.
PY_SDK = """
import json, sys
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
kind, client_id = sys.argv[1], sys.argv[2] or None
try:
    if kind == "default":
        cred = DefaultAzureCredential(exclude_shared_token_cache_credential=True,
                                      exclude_visual_studio_code_credential=True, exclude_cli_credential=True,
                                      exclude_powershell_credential=True)
    else:
        cred = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    out = {"ok": True, "token": cred.get_token("https://vault.azure.net/.default").token}
    if len(sys.argv) > 4:
        from azure.keyvault.secrets import SecretClient
        out["value"] = SecretClient(sys.argv[3], cred, verify_challenge_resource=False).get_secret(sys.argv[4]).value
    print(json.dumps(out))
except Exception as e:
    print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
"""
