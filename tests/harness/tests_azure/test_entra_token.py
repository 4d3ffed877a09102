# SPDX-License-Identifier: Apache-2.0
"""Entra ID emulator, client secret flow and metadata: answers byte-shaped as reference §4.1, §4.2, §4.4."""
from __future__ import annotations

import json
import time

import jwt
import pytest

from entra_kv_support import ca, call, ctx, entra, entra_url, issuer, server_tls  # noqa: F401 (fixtures)

VAULT = "https://vault.azure.net"


@pytest.fixture
def v1(entra_url, ctx, issuer):
    """POST a form to the v1 endpoint (adal's `?api-version=1.0` included); `tenant=` overrides the tenant."""
    def post(tenant=issuer.tenant_id, **form):
        return call(f"{entra_url}/{tenant}/oauth2/token?api-version=1.0", "POST", ctx=ctx, form=form)
    return post


@pytest.fixture
def v2(entra_url, ctx, issuer):
    def post(tenant=issuer.tenant_id, **form):
        return call(f"{entra_url}/{tenant}/oauth2/v2.0/token", "POST", ctx=ctx, form=form)
    return post


@pytest.fixture
def app(entra):
    return entra.register_app(secret="s3cr3t+/=&x")


def test_v2_secret_success_body_has_int_fields_and_no_v1_fields(entra, entra_url, app, issuer, v2):
    r = v2(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials", scope=f"{VAULT}/.default", **{"x-client-SKU": "msal.js.node"})
    assert r.status == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    assert 3500 < body["expires_in"] <= 3599
    claims = issuer.verify(body["access_token"], audience=VAULT)
    assert claims["aud"] == VAULT and claims["oid"] == app.object_id and claims["appid"] == app.client_id
    assert claims["tid"] == issuer.tenant_id and claims["appidacr"] == "1"
    assert entra.token_log[-1].credential == "secret" and entra.token_log[-1].status == 200


def test_v1_secret_success_body_is_all_strings(entra_url, app, issuer, v1):
    r = v1(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials", resource="https://management.azure.com/")
    body = r.json()
    assert r.status == 200
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource",
                         "access_token"}
    assert all(isinstance(v, str) for v in body.values())
    assert body["resource"] == "https://management.azure.com/"
    assert abs(int(body["expires_on"]) - (time.time() + 3599)) < 10
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com/"
    assert int(body["not_before"]) == claims["nbf"] and int(body["expires_on"]) == claims["exp"]


def test_scope_strips_only_the_default_suffix(entra_url, app, issuer, v2):
    r = v2(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials", scope="https://management.azure.com//.default")
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com/"


def _assert_error(r, status, error, code):
    assert r.status == status, r.body
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"] and "\r\nTimestamp: " in body["error_description"]
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                         "error_uri"}
    assert body["error_uri"].endswith(f"/error?code={code}")
    return body


def test_wrong_secret_is_401_invalid_client_7000215(entra_url, app, issuer, v2):
    r = v2(client_id=app.client_id, client_secret="nope",
            grant_type="client_credentials", scope=f"{VAULT}/.default")
    body = _assert_error(r, 401, "invalid_client", 7000215)
    assert f"app '{app.client_id}'" in body["error_description"]


def test_expired_secret_is_7000222(entra, entra_url, issuer, v1):
    old = entra.register_app(secret="old", secret_expires_at=time.time() - 60)
    r = v1(client_id=old.client_id, client_secret="old",
            grant_type="client_credentials", resource=VAULT)
    _assert_error(r, 401, "invalid_client", 7000222)


def test_unknown_app_is_400_unauthorized_client_700016(entra_url, issuer, v2):
    r = v2(client_id="00000000-0000-0000-0000-000000000001", client_secret="x",
            grant_type="client_credentials", scope=f"{VAULT}/.default")
    _assert_error(r, 400, "unauthorized_client", 700016)


def test_unknown_tenant_is_400_invalid_request_90002(entra_url, app, v2):
    r = v2(tenant="11111111-2222-3333-4444-555555555555", client_id=app.client_id, client_secret="x",
            grant_type="client_credentials", scope=f"{VAULT}/.default")
    body = _assert_error(r, 400, "invalid_request", 90002)
    assert "Tenant '11111111-2222-3333-4444-555555555555' not found" in body["error_description"]


@pytest.mark.parametrize("form,status,error,code", [
    ({"scope": f"{VAULT}/.default"}, 400, "invalid_request", 900144),                    # no grant_type
    ({"grant_type": "password", "scope": f"{VAULT}/.default"}, 400, "unsupported_grant_type", 70003),
    ({"grant_type": "client_credentials"}, 400, "invalid_request", 900144),              # no scope
    ({"grant_type": "client_credentials", "scope": VAULT}, 400, "invalid_scope", 1002012),
    ({"grant_type": "client_credentials", "scope": f"{VAULT}/.default openid"}, 400, "invalid_scope", 70011),
])
def test_v2_request_errors(entra_url, app, issuer, form, status, error, code, v2):
    r = v2(client_id=app.client_id, client_secret="s3cr3t+/=&x", **form)
    _assert_error(r, status, error, code)


def test_v1_without_resource_is_50001(entra_url, app, issuer, v1):
    r = v1(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials")
    _assert_error(r, 400, "invalid_resource", 50001)


def test_no_credential_is_7000218(entra_url, app, issuer, v2):
    r = v2(client_id=app.client_id, grant_type="client_credentials",
            scope=f"{VAULT}/.default")
    _assert_error(r, 400, "invalid_client", 7000218)


def test_restricted_resources_refuse_unknown_ones(entra, entra_url, app, issuer, v2):
    entra.resources = {VAULT}
    r = v2(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials", scope="https://unknown.example/.default")
    _assert_error(r, 400, "invalid_resource", 500011)


def test_get_on_token_endpoint_is_refused(entra_url, issuer, ctx):
    r = call(f"{entra_url}/{issuer.tenant_id}/oauth2/v2.0/token", ctx=ctx)
    _assert_error(r, 400, "invalid_request", 900561)


def test_client_request_id_is_echoed_as_correlation_id(entra_url, app, issuer, ctx):
    r = call(f"{entra_url}/{issuer.tenant_id}/oauth2/v2.0/token?client-request-id=abc-123", "POST", ctx=ctx,
             form={"client_id": app.client_id, "client_secret": "bad", "grant_type": "client_credentials",
                   "scope": f"{VAULT}/.default"})
    assert r.json()["correlation_id"] == "abc-123" and r.headers["client-request-id"] == "abc-123"


def test_injected_fault_then_recovery_and_request_log(entra, entra_url, app, issuer, v2):
    entra.faults.add(503, retry_after=2, count=1, path_regex=r"/oauth2/")
    form = dict(client_id=app.client_id, client_secret="s3cr3t+/=&x", grant_type="client_credentials",
                scope=f"{VAULT}/.default")
    first = v2(**form)
    assert first.status == 503 and first.headers["retry-after"] == "2"
    assert first.json()["error"] == "temporarily_unavailable"
    assert v2(**form).status == 200
    assert [e.status for e in entra.log.entries(r"/oauth2/")] == [503, 200]


def test_injected_delay(entra, entra_url, app, issuer, v2):
    entra.faults.add(None, delay_s=0.5)
    start = time.monotonic()
    r = v2(client_id=app.client_id, client_secret="s3cr3t+/=&x",
            grant_type="client_credentials", scope=f"{VAULT}/.default")
    assert r.status == 200 and time.monotonic() - start >= 0.5


def test_openid_configuration_v2_points_back_at_the_emulator(entra_url, issuer, ctx):
    doc = call(f"{entra_url}/{issuer.tenant_id}/v2.0/.well-known/openid-configuration", ctx=ctx).json()
    tid = issuer.tenant_id
    assert doc["token_endpoint"] == f"{entra_url}/{tid}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{entra_url}/{tid}/v2.0"
    assert {"authorization_endpoint", "jwks_uri"} <= set(doc)
    keys = call(doc["jwks_uri"], ctx=ctx).json()
    assert keys == issuer.jwks()


def test_openid_configuration_v1_and_unknown_tenant(entra_url, issuer, ctx):
    doc = call(f"{entra_url}/{issuer.tenant_id}/.well-known/openid-configuration", ctx=ctx).json()
    assert doc["token_endpoint"].endswith(f"/{issuer.tenant_id}/oauth2/token")
    assert doc["issuer"] == issuer.issuer
    r = call(f"{entra_url}/no-such-tenant/v2.0/.well-known/openid-configuration", ctx=ctx)
    _assert_error(r, 400, "invalid_request", 90002)


def test_instance_discovery_answers_for_this_host_only(entra_url, issuer, ctx):
    auth = f"{entra_url}/{issuer.tenant_id}/oauth2/v2.0/authorize"
    r = call(f"{entra_url}/common/discovery/instance?api-version=1.1&authorization_endpoint={auth}", ctx=ctx)
    body = r.json()
    assert body["tenant_discovery_endpoint"] == f"{entra_url}/{issuer.tenant_id}/v2.0/.well-known/openid-configuration"
    host = entra_url.split("://")[1]
    assert body["metadata"][0]["aliases"] == [host]
    other = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    r = call(f"{entra_url}/common/discovery/instance?api-version=1.1&authorization_endpoint={other}", ctx=ctx)
    _assert_error(r, 400, "invalid_instance", 50049)


def test_unknown_path_is_404(entra_url, ctx):
    r = call(f"{entra_url}/nothing/here", ctx=ctx)
    assert r.status == 404 and json.loads(r.body)["error"] == "not_found"
