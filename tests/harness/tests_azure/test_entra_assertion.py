# SPDX-License-Identifier: Apache-2.0
"""Certificate client assertions (reference §4.3): both clients' shapes pass; each bad claim gets its AADSTS code."""
from __future__ import annotations

import base64
import hashlib
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from entra_kv_support import ca, call, ctx, entra, entra_url, issuer, server_tls  # noqa: F401 (fixtures)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
VAULT = "https://vault.azure.net"


@pytest.fixture(scope="module")
def cert(ca):
    return ca.issue_client("sp-cert")


@pytest.fixture(scope="module")
def other_cert(ca):
    return ca.issue_client("sp-other")


@pytest.fixture
def app(entra, cert):
    return entra.register_app(cert=cert)


def _assertion(cc, client_id, aud, *, alg="PS256", thumb="x5t#S256", padded=False, key=None, **claims):
    now = int(time.time())
    body = {"aud": aud, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
            "exp": now + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    if thumb == "x5t#S256":
        header = {"x5t#S256": cc.x5t_s256}
    else:
        digest = hashlib.sha1(cc.der).digest()
        header = {"x5t": base64.urlsafe_b64encode(digest).decode() if padded else cc.x5t}
    signing_key = key or load_pem_private_key(cc.key_pem, None)
    return jwt.encode(body, signing_key, algorithm=alg, headers=header)


def _post(url, ctx, tenant, path, client_id, assertion, assertion_type=JWT_BEARER, **extra):
    form = {"client_id": client_id, "grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": assertion_type}
    form.update(extra)
    return call(f"{url}/{tenant}/{path}", "POST", ctx=ctx, form=form)


def _v2(entra_url, ctx, issuer, app, assertion, **kw):
    return _post(entra_url, ctx, issuer.tenant_id, "oauth2/v2.0/token", app.client_id, assertion,
                 scope=f"{VAULT}/.default", **kw)


def _aud_v2(entra_url, issuer):
    return f"{entra_url}/{issuer.tenant_id}/oauth2/v2.0/token"


def test_msal_node_shape_ps256_x5t_s256(entra, entra_url, ctx, issuer, app, cert):
    r = _v2(entra_url, ctx, issuer, app, _assertion(cert, app.client_id, _aud_v2(entra_url, issuer)))
    assert r.status == 200, r.body
    claims = issuer.verify(r.json()["access_token"], audience=VAULT)
    assert claims["oid"] == app.object_id and claims["appidacr"] == "2"
    assert entra.token_log[-1].credential == "certificate"


def test_adal_shape_rs256_padded_x5t_and_api_version_in_aud(entra_url, ctx, issuer, app, cert):
    aud = f"{entra_url}/{issuer.tenant_id}/oauth2/token?api-version=1.0"
    assertion = _assertion(cert, app.client_id, aud, alg="RS256", thumb="x5t", padded=True, nbf=None,
                           iat=None, exp=int(time.time()) + 86400)
    r = _post(entra_url, ctx, issuer.tenant_id, "oauth2/token?api-version=1.0", app.client_id, assertion,
              resource="https://management.azure.com/")
    assert r.status == 200, r.body
    assert r.json()["resource"] == "https://management.azure.com/"


def test_unpadded_x5t_also_matches(entra_url, ctx, issuer, app, cert):
    assertion = _assertion(cert, app.client_id, _aud_v2(entra_url, issuer), alg="RS256", thumb="x5t")
    assert _v2(entra_url, ctx, issuer, app, assertion).status == 200


def _error(r, status, error, code):
    assert r.status == status, r.body
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code], body
    return body["error_description"]


def test_unregistered_certificate_is_key_not_found(entra_url, ctx, issuer, app, other_cert):
    r = _v2(entra_url, ctx, issuer, app, _assertion(other_cert, app.client_id, _aud_v2(entra_url, issuer)))
    text = _error(r, 401, "invalid_client", 700027)
    assert "The key was not found." in text and app.client_id in text


def test_registered_thumbprint_signed_by_another_key_is_bad_signature(entra_url, ctx, issuer, app, cert,
                                                                       other_cert):
    forged = _assertion(cert, app.client_id, _aud_v2(entra_url, issuer),
                        key=load_pem_private_key(other_cert.key_pem, None))
    text = _error(_v2(entra_url, ctx, issuer, app, forged), 401, "invalid_client", 700027)
    assert "did not match the expected signature value" in text


def test_second_certificate_can_be_added(entra, entra_url, ctx, issuer, app, other_cert):
    entra.add_certificate(app, other_cert)
    r = _v2(entra_url, ctx, issuer, app, _assertion(other_cert, app.client_id, _aud_v2(entra_url, issuer)))
    assert r.status == 200


@pytest.mark.parametrize("claims,code", [
    ({"iss": "someone-else"}, 700021),
    ({"sub": "someone-else"}, 700021),
    ({"aud": "https://login.microsoftonline.com/other/oauth2/v2.0/token"}, 50012),
    ({"exp": int(time.time()) - 3600}, 700024),
    ({"nbf": int(time.time()) + 3600, "exp": int(time.time()) + 4000}, 700024),
])
def test_bad_claims(entra_url, ctx, issuer, app, cert, claims, code):
    claims = dict(claims)
    aud = claims.pop("aud", _aud_v2(entra_url, issuer))
    if "iss" in claims or "sub" in claims:
        body = {"iss": app.client_id, "sub": app.client_id}
        body.update(claims)
        claims = body
    r = _v2(entra_url, ctx, issuer, app, _assertion(cert, app.client_id, aud, **claims))
    _error(r, 401, "invalid_client", code)


def test_expired_assertion_message_names_the_times(entra_url, ctx, issuer, app, cert):
    r = _v2(entra_url, ctx, issuer, app, _assertion(cert, app.client_id, _aud_v2(entra_url, issuer),
                                                    nbf=None, exp=int(time.time()) - 3600))
    text = _error(r, 401, "invalid_client", 700024)
    assert "assertion valid from 1970-01-01T00:00:00.0000000Z" in text


def test_clock_skew_of_a_few_minutes_is_tolerated(entra_url, ctx, issuer, app, cert):
    now = int(time.time())
    r = _v2(entra_url, ctx, issuer, app, _assertion(cert, app.client_id, _aud_v2(entra_url, issuer),
                                                    nbf=now + 120, exp=now - 60))
    assert r.status == 200


def test_missing_jti_is_malformed(entra_url, ctx, issuer, app, cert):
    r = _v2(entra_url, ctx, issuer, app, _assertion(cert, app.client_id, _aud_v2(entra_url, issuer), jti=None))
    _error(r, 400, "invalid_request", 50027)


def test_hs256_is_refused(entra_url, ctx, issuer, app, cert):
    token = jwt.encode({"iss": app.client_id, "sub": app.client_id, "aud": _aud_v2(entra_url, issuer)},
                       "shared-secret-of-32-bytes-or-more!", algorithm="HS256", headers={"x5t#S256": cert.x5t_s256})
    _error(_v2(entra_url, ctx, issuer, app, token), 400, "invalid_request", 50027)


def test_garbage_assertion_and_wrong_type(entra_url, ctx, issuer, app, cert):
    _error(_v2(entra_url, ctx, issuer, app, "not.a.jwt"), 400, "invalid_request", 50027)
    good = _assertion(cert, app.client_id, _aud_v2(entra_url, issuer))
    _error(_v2(entra_url, ctx, issuer, app, good, assertion_type="urn:other"), 400, "invalid_request", 50027)


def test_replayed_assertion_is_accepted_like_entra(entra_url, ctx, issuer, app, cert):
    # msal-node reuses its cached assertion (same jti) for every request until it expires.
    assertion = _assertion(cert, app.client_id, _aud_v2(entra_url, issuer))
    assert _v2(entra_url, ctx, issuer, app, assertion).status == 200
    assert _v2(entra_url, ctx, issuer, app, assertion).status == 200
