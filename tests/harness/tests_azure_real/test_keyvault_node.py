# SPDX-License-Identifier: Apache-2.0
"""@azure/keyvault-secrets SecretClient.getSecret end to end: credential -> Entra ID emulator -> Key Vault
emulator, through the SDK's bearer-challenge round trip."""
from __future__ import annotations

import pytest

from entra_kv_real_support import run_node, tenant  # noqa: F401 (fixture)

pytestmark = pytest.mark.real_client


@pytest.fixture(scope="module")
def sp(tenant):
    app = tenant.entra.register_app(secret="kv-node-secret")
    return {"kind": "secret", "clientId": app.client_id, "secret": "kv-node-secret", "app": app}


def _get(tenant, sp, name, **extra):
    cfg = {k: v for k, v in sp.items() if k != "app"}
    cfg.update({"vaultUrl": tenant.kv_url, "name": name}, **extra)
    return run_node(tenant, "keyvault_get_secret.mjs", cfg)


def test_get_secret_with_client_secret_credential(tenant, sp):
    tenant.kv.allow(sp["app"].object_id, ["get"])
    ver = tenant.kv.set_secret("node-db-password", "hunter2", content_type="text/plain")
    out = _get(tenant, sp, "node-db-password")
    assert out["ok"], out
    assert out["value"] == "hunter2" and out["version"] == ver.version and out["contentType"] == "text/plain"
    assert out["id"] == f"{tenant.kv_url}/secrets/node-db-password/{ver.version}"
    # The SDK's first request carried no token and was answered with the challenge; the retry carried one.
    statuses = [(e.status, bool(e.header("authorization"))) for e in tenant.kv.log.entries(r"node-db-password")]
    assert statuses[:2] == [(401, False), (200, True)]


def test_get_older_version(tenant, sp):
    tenant.kv.allow(sp["app"].object_id, ["get"])
    old = tenant.kv.set_secret("node-rotating", "v1")
    tenant.kv.set_secret("node-rotating", "v2")
    assert _get(tenant, sp, "node-rotating")["value"] == "v2"
    assert _get(tenant, sp, "node-rotating", version=old.version)["value"] == "v1"


def test_get_secret_with_client_certificate_credential(tenant):
    cert = tenant.ca.issue_client("kv-node-cert")
    app = tenant.entra.register_app(cert=cert)
    tenant.kv.allow(app.object_id, ["get"])
    tenant.kv.set_secret("node-cert-secret", "from-cert")
    out = run_node(tenant, "keyvault_get_secret.mjs", {"kind": "certificate", "clientId": app.client_id,
                                                       "certPath": cert.pem_path, "vaultUrl": tenant.kv_url,
                                                       "name": "node-cert-secret"})
    assert out["ok"] and out["value"] == "from-cert", out


def test_denied_surfaces_key_vaults_message(tenant):
    app = tenant.entra.register_app(secret="no-policy")
    tenant.kv.set_secret("node-locked", "x")
    out = run_node(tenant, "keyvault_get_secret.mjs", {"kind": "secret", "clientId": app.client_id,
                                                       "secret": "no-policy", "vaultUrl": tenant.kv_url,
                                                       "name": "node-locked"})
    assert not out["ok"] and out["statusCode"] == 403 and out["code"] == "Forbidden"
    assert f"oid={app.object_id}" in out["message"]
    assert "does not have secrets get permission on key vault 'podid-real;location=eastus'" in out["message"]


def test_missing_secret_surfaces_secret_not_found(tenant, sp):
    tenant.kv.allow(sp["app"].object_id, ["get"])
    out = _get(tenant, sp, "node-does-not-exist")
    assert not out["ok"] and out["statusCode"] == 404 and out["code"] == "SecretNotFound"
    assert "A secret with (name/id) node-does-not-exist was not found in this key vault." in out["message"]
