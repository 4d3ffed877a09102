# SPDX-License-Identifier: Apache-2.0
"""@azure/identity (npm, reference §3.9 versions) against the Entra ID emulator: ClientSecretCredential,
ClientCertificateCredential and WorkloadIdentityCredential, aimed at it with authorityHost over HTTPS."""
from __future__ import annotations

import os

import jwt
import pytest

from entra_kv_real_support import VAULT_SCOPE, run_node, tenant  # noqa: F401 (fixture)
from podid_harness.azure.oidc_issuer import FakeOidcIssuer

pytestmark = pytest.mark.real_client


def test_client_secret_credential(tenant):
    app = tenant.entra.register_app(secret="s3cr3t+/=")
    out = run_node(tenant, "entra_get_token.mjs", {"kind": "secret", "clientId": app.client_id,
                                                   "secret": "s3cr3t+/=", "scope": VAULT_SCOPE})
    assert out["ok"], out
    claims = tenant.issuer.verify(out["token"], audience="https://vault.azure.net")
    assert claims["oid"] == app.object_id
    # MSAL read the authority's metadata from the emulator; no instance discovery was attempted anywhere.
    paths = [e.path for e in tenant.entra.log.entries()]
    assert f"/{tenant.issuer.tenant_id}/v2.0/.well-known/openid-configuration" in paths
    assert not any("discovery/instance" in p for p in paths)


def test_client_secret_credential_with_wrong_secret_surfaces_aadsts(tenant):
    app = tenant.entra.register_app(secret="right")
    out = run_node(tenant, "entra_get_token.mjs", {"kind": "secret", "clientId": app.client_id,
                                                   "secret": "wrong", "scope": VAULT_SCOPE})
    # @azure/identity wraps MSAL's ServerError this way whatever the server said; the AADSTS text survives.
    assert not out["ok"] and out["name"] == "AuthenticationRequiredError", out
    assert "invalid_client" in out["message"] and "AADSTS7000215" in out["message"]


def test_client_certificate_credential_sends_ps256_with_x5t_s256(tenant):
    cert = tenant.ca.issue_client("node-sp")
    app = tenant.entra.register_app(cert=cert)
    out = run_node(tenant, "entra_get_token.mjs", {"kind": "certificate", "clientId": app.client_id,
                                                   "certPath": cert.pem_path, "scope": VAULT_SCOPE})
    assert out["ok"], out
    sent = [t for t in tenant.entra.token_log if t.form.get("client_id") == app.client_id][-1]
    header = jwt.get_unverified_header(sent.form["client_assertion"])
    assert header["alg"] == "PS256" and header["x5t#S256"] == cert.x5t_s256
    assert sent.credential == "certificate" and sent.status == 200


def test_client_certificate_credential_with_unregistered_certificate(tenant):
    app = tenant.entra.register_app(cert=tenant.ca.issue_client("registered"))
    other = tenant.ca.issue_client("not-registered")
    out = run_node(tenant, "entra_get_token.mjs", {"kind": "certificate", "clientId": app.client_id,
                                                   "certPath": other.pem_path, "scope": VAULT_SCOPE})
    assert not out["ok"] and "AADSTS700027" in out["message"]


def test_workload_identity_credential_exchanges_a_service_account_token(tenant, tmp_path):
    fake = FakeOidcIssuer()
    tenant.entra.oidc.ssl_context = tenant.ca.client_context()
    with fake.serve(tls=tenant.ca.server_context()):
        uami = tenant.entra.register_app(display_name="uami")
        tenant.entra.add_federated_credential(uami, fake.url, "system:serviceaccount:apps:web")
        token_file = tmp_path / "azure-identity-token"
        token_file.write_text(fake.token("apps", "web"))
        out = run_node(tenant, "entra_get_token.mjs", {"kind": "workload", "clientId": uami.client_id,
                                                       "tokenFilePath": os.fspath(token_file),
                                                       "scope": VAULT_SCOPE})
        assert out["ok"], out
        token_file.write_text(fake.token("apps", "other"))
        out = run_node(tenant, "entra_get_token.mjs", {"kind": "workload", "clientId": uami.client_id,
                                                       "tokenFilePath": os.fspath(token_file),
                                                       "scope": VAULT_SCOPE})
        assert not out["ok"] and "AADSTS70021" in out["message"]
