# SPDX-License-Identifier: Apache-2.0
"""Federated assertions (reference §6): a service-account JWT is exchanged when a federated credential matches
issuer, subject and audience exactly and the issuer's published key verifies it."""
from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from entra_kv_support import ca, call, ctx, entra, entra_url, issuer, server_tls  # noqa: F401 (fixtures)
from podid_harness.azure.entra import FederatedCredentialRefused
from podid_harness.azure.oidc_issuer import FakeOidcIssuer

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
VAULT = "https://vault.azure.net"
SUBJECT = "system:serviceaccount:apps:workload"


@pytest.fixture
def oidc(server_tls, ctx, entra):
    fake = FakeOidcIssuer()
    entra.oidc.ssl_context = ctx
    with fake.serve(tls=server_tls):
        yield fake


@pytest.fixture
def app(entra, oidc):
    uami = entra.register_app(display_name="uami-workload")
    entra.add_federated_credential(uami, oidc.url, SUBJECT)
    return uami


def _exchange(entra_url, ctx, issuer, client_id, assertion):
    form = {"client_id": client_id, "grant_type": "client_credentials", "scope": f"{VAULT}/.default",
            "client_assertion": assertion, "client_assertion_type": JWT_BEARER}
    return call(f"{entra_url}/{issuer.tenant_id}/oauth2/v2.0/token", "POST", ctx=ctx, form=form)


def _error(r, status, error, code):
    assert r.status == status, r.body
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code], body
    return body["error_description"]


def test_matching_service_account_token_is_exchanged(entra, entra_url, ctx, issuer, oidc, app):
    r = _exchange(entra_url, ctx, issuer, app.client_id, oidc.token("apps", "workload"))
    assert r.status == 200, r.body
    claims = issuer.verify(r.json()["access_token"], audience=VAULT)
    assert claims["oid"] == app.object_id and claims["appid"] == app.client_id
    assert entra.token_log[-1].credential == "federated"


def test_plain_http_issuer_and_es256_keys_work_too(entra, entra_url, ctx, issuer):
    fake = FakeOidcIssuer("ES256")
    with fake.serve():
        uami = entra.register_app()
        entra.add_federated_credential(uami, fake.url, SUBJECT)
        assert _exchange(entra_url, ctx, issuer, uami.client_id, fake.token("apps", "workload")).status == 200


@pytest.mark.parametrize("namespace,sa,audience,code", [
    ("apps", "other", "api://AzureADTokenExchange", 700213),
    ("other", "workload", "api://AzureADTokenExchange", 700213),
    ("Apps", "workload", "api://AzureADTokenExchange", 700213),     # matching is case-sensitive
    ("apps", "workload", "api://SomethingElse", 700212),
])
def test_no_matching_federated_record(entra_url, ctx, issuer, oidc, app, namespace, sa, audience, code):
    r = _exchange(entra_url, ctx, issuer, app.client_id, oidc.token(namespace, sa, audience=audience))
    text = _error(r, 401, "invalid_client", code)
    shown = f"subject 'system:serviceaccount:{namespace}:{sa}'" if code == 700213 else f"audience '{audience}'"
    assert f"No matching federated identity record found for presented assertion {shown}." in text, text


def test_other_issuer_is_700211(entra_url, ctx, issuer, oidc, app):
    token = oidc.token("apps", "workload", iss="https://oidc.example.invalid/")
    text = _error(_exchange(entra_url, ctx, issuer, app.client_id, token), 401, "invalid_client", 700211)
    assert "assertion issuer 'https://oidc.example.invalid/'" in text


def test_legacy_wording_is_one_70021(entra, entra_url, ctx, issuer, oidc, app):
    entra.federated_errors = "legacy"
    r = _exchange(entra_url, ctx, issuer, app.client_id, oidc.token("apps", "other"))
    text = _error(r, 400, "invalid_request", 70021)
    assert "Assertion Subject: 'system:serviceaccount:apps:other'" in text
    assert f"Assertion Issuer: '{oidc.url}'" in text and "Assertion Audience: 'api://AzureADTokenExchange'" in text


def test_at_most_twenty_credentials_each_pair_once(entra, oidc):
    uami = entra.register_app()
    for i in range(20):
        entra.add_federated_credential(uami, oidc.url, f"system:serviceaccount:apps:sa{i}")
    with pytest.raises(FederatedCredentialRefused) as refused:
        entra.add_federated_credential(uami, oidc.url, "system:serviceaccount:apps:sa20")
    assert refused.value.status == 400 and "A maximum of 20" in refused.value.message
    other = entra.register_app()
    entra.add_federated_credential(other, oidc.url, SUBJECT)
    with pytest.raises(FederatedCredentialRefused) as twice:
        entra.add_federated_credential(other, oidc.url, SUBJECT, name="again")
    assert twice.value.status == 409
    assert len(uami.federated) == 20 and len(other.federated) == 1


def test_token_signed_by_an_unpublished_key_is_700027(entra_url, ctx, issuer, oidc, app):
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = oidc.token("apps", "workload", key=rogue)
    _error(_exchange(entra_url, ctx, issuer, app.client_id, token), 401, "invalid_client", 700027)


def test_expired_service_account_token_is_700024(entra_url, ctx, issuer, oidc, app):
    now = int(time.time())
    token = oidc.token("apps", "workload", exp=now - 3600, nbf=now - 7200, iat=now - 7200)
    _error(_exchange(entra_url, ctx, issuer, app.client_id, token), 401, "invalid_client", 700024)


def test_key_rotation_is_picked_up(entra_url, ctx, issuer, oidc, app):
    assert _exchange(entra_url, ctx, issuer, app.client_id, oidc.token("apps", "workload")).status == 200
    oidc.rotate()    # new kid: Entra refetches the JWKS instead of trusting its cache
    assert _exchange(entra_url, ctx, issuer, app.client_id, oidc.token("apps", "workload")).status == 200


def test_unreachable_issuer_is_50166(entra, entra_url, ctx, issuer):
    fake = FakeOidcIssuer()
    fake.serve().stop()
    uami = entra.register_app()
    entra.add_federated_credential(uami, fake.url, SUBJECT)
    r = _exchange(entra_url, ctx, issuer, uami.client_id, fake.token("apps", "workload"))
    _error(r, 400, "invalid_request", 50166)


def test_issuer_off_this_machine_is_never_contacted(entra, entra_url, ctx, issuer):
    fake = FakeOidcIssuer()
    fake.url = "https://192.0.2.1"          # TEST-NET-1: refused before any connection is tried
    uami = entra.register_app()
    entra.add_federated_credential(uami, fake.url, SUBJECT)
    start = time.monotonic()
    r = _exchange(entra_url, ctx, issuer, uami.client_id, fake.token("apps", "workload"))
    text = _error(r, 400, "invalid_request", 50166)
    assert "not a local test address" in text and time.monotonic() - start < 2
