# SPDX-License-Identifier: Apache-2.0
"""Key Vault emulator: the bearer challenge, token checks, access policies by oid and Key Vault's JSON."""
from __future__ import annotations

import json
import re

import pytest

from entra_kv_support import ca, call, ctx, issuer, kv, kv_url, server_tls  # noqa: F401 (fixtures)
from podid_harness.azure.tokens import TokenIssuer

VAULT = "https://vault.azure.net"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
APPID = "bbbbbbbb-0000-0000-0000-000000000002"


@pytest.fixture
def token(issuer):
    return issuer.issue(audience=VAULT, oid=OID, appid=APPID)[0]


@pytest.fixture
def get(kv_url, ctx, token):
    """GET a vault path with a bearer token (`token=None` sends none)."""
    def fetch(path, *, bearer=token, api_version="7.5", method="GET", body=None):
        sep = "&" if "?" in path else "?"
        url = f"{kv_url}{path}{sep}api-version={api_version}" if api_version else f"{kv_url}{path}"
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return call(url, method, ctx=ctx, headers=headers, body=body)
    return fetch


def _kv_error(r, status, code):
    assert r.status == status, r.body
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert body["error"]["code"] == code, body
    return body["error"]


def test_request_without_token_gets_the_challenge(kv, get, issuer):
    kv.authority = "https://127.0.0.1:1"
    r = get("/secrets/anything/", bearer=None)
    err = _kv_error(r, 401, "Unauthorized")
    assert err["message"] == "AKV10000: Request is missing a Bearer or PoP token."
    assert r.headers["www-authenticate"] == (
        f'Bearer authorization="https://127.0.0.1:1/{issuer.tenant_id}", resource="https://vault.azure.net"')


def test_challenge_parses_the_way_the_js_sdk_parses_it(kv, get, issuer):
    # keyvault-common: split on /,? +/, keep key="value" pairs, tenant = authorization URL path.
    header = get("/secrets/x", bearer=None).headers["www-authenticate"]
    pairs = dict(p.split("=", 1) for p in re.split(r",? +", header) if re.search(r'\w="', p))
    assert pairs["resource"].strip('"') + "/.default" == "https://vault.azure.net/.default"
    assert pairs["authorization"].strip('"').rsplit("/", 1)[1] == issuer.tenant_id


def test_secret_bundle(kv, get):
    kv.allow(OID, ["get"])
    ver = kv.set_secret("db-password", "hunter2", content_type="text/plain", tags={"team": "a"})
    r = get("/secrets/db-password/")
    assert r.status == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert body["value"] == "hunter2" and body["contentType"] == "text/plain" and body["tags"] == {"team": "a"}
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/secrets/db-password/" + ver.version, body["id"])
    attrs = body["attributes"]
    assert attrs["enabled"] is True and isinstance(attrs["created"], int) and attrs["updated"] == attrs["created"]
    assert attrs["recoveryLevel"] == "Recoverable+Purgeable" and attrs["recoverableDays"] == 90
    assert get("/secrets/db-password").json() == body     # no trailing slash: same secret


def test_versions_are_listed_and_addressable(kv, get):
    kv.allow(OID, ["get", "list"])
    first = kv.set_secret("rotating", "v1")
    second = kv.set_secret("rotating", "v2")
    assert get("/secrets/rotating").json()["value"] == "v2"
    assert get(f"/secrets/rotating/{first.version}").json()["value"] == "v1"
    listing = get("/secrets/rotating/versions").json()
    assert [item["id"].rsplit("/", 1)[1] for item in listing["value"]] == [first.version, second.version]
    assert all("value" not in item for item in listing["value"]) and listing["nextLink"] is None
    names = get("/secrets").json()["value"]
    assert [item["id"].rsplit("/", 2)[1:] for item in names] == [["secrets", "rotating"]]


def test_names_are_case_insensitive_and_keep_their_spelling(kv, get):
    kv.allow(OID, ["get"])
    kv.set_secret("MySecret", "x")
    assert "/secrets/MySecret/" in get("/secrets/mysecret").json()["id"]


def test_denied_without_access_policy_is_keyvaults_403(kv, get, issuer):
    kv.set_secret("db-password", "hunter2")
    err = _kv_error(get("/secrets/db-password/"), 403, "Forbidden")
    assert err["message"] == (
        f"The user, group or application 'appid={APPID};oid={OID};iss={issuer.issuer}' does not have secrets get "
        "permission on key vault 'podid-test;location=eastus'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287")
    assert err["innererror"] == {"code": "AccessDenied"}


def test_policies_are_per_permission_and_revocable(kv, get):
    kv.set_secret("s", "v")
    kv.allow(OID, ["list"])
    assert "secrets get permission" in _kv_error(get("/secrets/s"), 403, "Forbidden")["message"]
    kv.allow(OID, ["get"])
    assert get("/secrets/s").status == 200
    kv.revoke(OID)
    assert get("/secrets/s").status == 403


def test_missing_secret_and_version_are_404_secret_not_found(kv, get):
    kv.allow(OID, ["get"])
    err = _kv_error(get("/secrets/nope/"), 404, "SecretNotFound")
    assert err["message"].startswith("A secret with (name/id) nope was not found in this key vault.")
    kv.set_secret("there", "x")
    err = _kv_error(get("/secrets/there/0123456789abcdef0123456789abcdef"), 404, "SecretNotFound")
    assert "(name/id) there/0123456789abcdef0123456789abcdef was not found" in err["message"]


def test_disabled_secret_is_forbidden(kv, get):
    kv.allow(OID, ["get"])
    kv.set_secret("off", "x", enabled=False)
    assert _kv_error(get("/secrets/off"), 403, "Forbidden")["innererror"] == {"code": "SecretDisabled"}


@pytest.mark.parametrize("case,fragment", [
    ("audience", "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."),
    ("expired", "AKV10017"),
    ("other-tenant", "AKV10032: Invalid issuer."),
    ("garbage", "AKV10000"),
])
def test_bad_tokens_are_401_with_the_challenge(kv, get, issuer, case, fragment):
    kv.allow(OID, ["get"])
    kv.set_secret("s", "v")
    if case == "audience":
        bearer = issuer.issue(audience="https://management.azure.com/", oid=OID, appid=APPID)[0]
    elif case == "expired":
        bearer = issuer.issue(audience=VAULT, oid=OID, appid=APPID, ttl_s=-600)[0]
    elif case == "other-tenant":
        bearer = TokenIssuer().issue(audience=VAULT, oid=OID, appid=APPID)[0]
    else:
        bearer = "not-a-jwt"
    r = get("/secrets/s", bearer=bearer)
    assert fragment in _kv_error(r, 401, "Unauthorized")["message"]
    assert r.headers["www-authenticate"].startswith("Bearer authorization=")


def test_token_signed_by_another_key_with_the_same_issuer_is_refused(kv, get, issuer):
    forger = TokenIssuer(tenant_id=issuer.tenant_id)
    r = get("/secrets/s", bearer=forger.issue(audience=VAULT, oid=OID, appid=APPID)[0])
    assert "AKV10007" in _kv_error(r, 401, "Unauthorized")["message"]


def test_api_version_is_required(kv, get):
    kv.allow(OID, ["get"])
    _kv_error(get("/secrets/s", api_version=None), 400, "BadParameter")


def test_set_secret_over_http(kv, get):
    kv.allow(OID, ["set", "get"])
    r = get("/secrets/new-one", method="PUT", body=json.dumps({"value": "fresh", "contentType": "x"}).encode())
    assert r.status == 200 and r.json()["value"] == "fresh"
    assert get("/secrets/new-one").json()["contentType"] == "x"
    _kv_error(get("/secrets/new-one", method="PUT", body=b"{}"), 400, "BadParameter")


def test_faults_and_log(kv, get):
    kv.allow(OID, ["get"])
    kv.set_secret("s", "v")
    kv.faults.add(429, retry_after=1, count=1)
    r = get("/secrets/s")
    assert r.status == 429 and r.headers["retry-after"] == "1" and r.json()["error"]["code"] == "Throttled"
    assert get("/secrets/s").status == 200
    assert [e.status for e in kv.log.entries(r"/secrets/s")] == [429, 200]
    assert kv.log.entries()[0].header("authorization").startswith("Bearer ")
