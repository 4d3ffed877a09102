# SPDX-License-Identifier: Apache-2.0
"""Debian's python3-azure (azure-identity + msal) against the Entra ID emulator: ClientSecretCredential,
CertificateCredential, the token-exchange credential (federated), and msal's instance discovery."""
from __future__ import annotations

import jwt
import pytest

from entra_kv_real_support import VAULT_SCOPE, python_sdk, sdk_env, tenant  # noqa: F401 (fixtures)
from podid_harness.azure.oidc_issuer import FakeOidcIssuer

pytestmark = pytest.mark.real_client


def _kw(tenant):
    # instance_discovery=False: msal-python would otherwise ask login.microsoftonline.com about the authority
    # (and, for aliases, even with a custom discovery URL: see test_msal_instance_discovery_endpoint).
    return {"authority": tenant.entra_url, "instance_discovery": False, "connection_verify": tenant.ca.bundle_path}


def test_client_secret_credential(tenant):
    identity, _ = python_sdk()
    app = tenant.entra.register_app(secret="py-s3cr3t")
    cred = identity.ClientSecretCredential(tenant.issuer.tenant_id, app.client_id, "py-s3cr3t", **_kw(tenant))
    token = cred.get_token(VAULT_SCOPE)
    claims = tenant.issuer.verify(token.token, audience="https://vault.azure.net")
    assert claims["oid"] == app.object_id and token.expires_on == claims["exp"]


def test_client_secret_credential_wrong_secret(tenant):
    identity, _ = python_sdk()
    from azure.core.exceptions import ClientAuthenticationError
    app = tenant.entra.register_app(secret="right")
    cred = identity.ClientSecretCredential(tenant.issuer.tenant_id, app.client_id, "wrong", **_kw(tenant))
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        cred.get_token(VAULT_SCOPE)


def test_certificate_credential_sends_rs256_with_x5t(tenant):
    identity, _ = python_sdk()
    cert = tenant.ca.issue_client("py-sp")
    app = tenant.entra.register_app(cert=cert)
    cred = identity.CertificateCredential(tenant.issuer.tenant_id, app.client_id, cert.pem_path, **_kw(tenant))
    assert tenant.issuer.verify(cred.get_token(VAULT_SCOPE).token, audience="https://vault.azure.net")
    sent = [t for t in tenant.entra.token_log if t.form.get("client_id") == app.client_id][-1]
    header = jwt.get_unverified_header(sent.form["client_assertion"])
    # msal-python of Debian 12 signs RS256 and names the key by its SHA-1 thumbprint (adal's shape).
    assert header["alg"] == "RS256" and header["x5t"].rstrip("=") == cert.x5t


def test_certificate_credential_from_pfx_bytes(tenant):
    identity, _ = python_sdk()
    cert = tenant.ca.issue_client("py-pfx", pfx_password="pfx-pass")
    app = tenant.entra.register_app(cert=cert)
    with open(cert.pfx_path, "rb") as f:
        cred = identity.CertificateCredential(tenant.issuer.tenant_id, app.client_id, certificate_data=f.read(),
                                              password="pfx-pass", **_kw(tenant))
    assert cred.get_token(VAULT_SCOPE).token


def test_token_exchange_credential_with_a_service_account_token(tenant, tmp_path):
    """What ManagedIdentityCredential uses under AKS workload identity (AZURE_FEDERATED_TOKEN_FILE). Debian's
    azure-identity 1.13.0b2 cannot pass options through ClientAssertionCredential itself (a TypeError in its
    mixins), so the token-file subclass is the usable real client for the federated flow here."""
    python_sdk()
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity._credentials.token_exchange import TokenExchangeCredential
    fake = FakeOidcIssuer()
    tenant.entra.oidc.ssl_context = tenant.ca.client_context()
    with fake.serve(tls=tenant.ca.server_context()):
        uami = tenant.entra.register_app()
        tenant.entra.add_federated_credential(uami, fake.url, "system:serviceaccount:apps:py")
        kw = {"authority": tenant.entra_url, "connection_verify": tenant.ca.bundle_path}
        good_file, bad_file = tmp_path / "good", tmp_path / "bad"
        good_file.write_text(fake.token("apps", "py"))
        bad_file.write_text(fake.token("apps", "py", audience="api://other"))
        good = TokenExchangeCredential(tenant.issuer.tenant_id, uami.client_id, str(good_file), **kw)
        claims = tenant.issuer.verify(good.get_token(VAULT_SCOPE).token, audience="https://vault.azure.net")
        assert claims["oid"] == uami.object_id
        bad = TokenExchangeCredential(tenant.issuer.tenant_id, uami.client_id, str(bad_file), **kw)
        with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
            bad.get_token(VAULT_SCOPE)


def test_msal_instance_discovery_endpoint(tenant):
    """msal-python resolves a custom authority through an instance-discovery URL it is given: the emulator's
    answer must lead it to the emulator's OpenID metadata and token endpoint."""
    python_sdk()
    import msal
    import requests
    session = requests.Session()
    session.verify = tenant.ca.bundle_path
    session.trust_env = False
    app = tenant.entra.register_app(secret="x")
    tenant.entra.log.clear()
    msal_app = msal.ConfidentialClientApplication(
        app.client_id, client_credential="x", authority=f"{tenant.entra_url}/{tenant.issuer.tenant_id}",
        http_client=session, instance_discovery=f"{tenant.entra_url}/common/discovery/instance")
    assert msal_app.authority.token_endpoint == f"{tenant.entra_url}/{tenant.issuer.tenant_id}/oauth2/v2.0/token"
    assert [e.path for e in tenant.entra.log.entries()] == [
        "/common/discovery/instance", f"/{tenant.issuer.tenant_id}/v2.0/.well-known/openid-configuration"]
