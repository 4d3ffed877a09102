# SPDX-License-Identifier: Apache-2.0
"""IMDS token endpoint: selection rules, exact bodies (reference azure-wire-formats.md §1), and that tokens follow
the ARM state of the node at the moment of the request."""
from __future__ import annotations

import time
from urllib.parse import quote

import jwt
import pytest

from imds_arm_support import http
from podid_harness.azure.imds import IDENTITY_NOT_FOUND, MISSING_HEADER, MULTIPLE_IDENTITIES, ImdsEmulator

TOKEN = "/metadata/identity/oauth2/token"
MD = {"Metadata": "true"}


def token_url(imds, resource="https://vault.azure.net", **sel) -> str:
    q = f"api-version=2018-02-01&resource={quote(resource, safe='')}"
    return imds.url + TOKEN + "?" + q + "".join(f"&{k}={quote(v, safe='')}" for k, v in sel.items())


def test_missing_header_body_is_azures_88_bytes(imds):
    r = http(token_url(imds))
    assert (r.status, r.body) == (400, MISSING_HEADER) and len(r.body) == 88
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("value", ["True", "TRUE", "1", ""])
def test_metadata_header_value_must_be_lowercase_true(imds, value):
    assert http(token_url(imds), headers={"Metadata": value}).body == MISSING_HEADER


def test_sdk_probe_gets_the_missing_header_answer_fast(imds):
    t = time.monotonic()
    r = http(imds.url + TOKEN, headers={"Accept": "application/json"})
    assert (r.status, r.body) == (400, MISSING_HEADER) and time.monotonic() - t < 0.5


def test_x_forwarded_for_is_rejected(imds):
    r = http(token_url(imds), headers={**MD, "X-Forwarded-For": "10.0.0.1"})
    assert (r.status, r.body) == (400, MISSING_HEADER)


def test_single_uami_without_selector(imds, cloud, issuer):
    r = http(token_url(imds), headers=MD)
    assert r.status == 200
    body = r.json()
    assert list(body) == ["access_token", "refresh_token", "expires_in", "expires_on", "ext_expires_in",
                          "not_before", "resource", "token_type", "client_id"]
    assert all(isinstance(v, str) and (v or k == "refresh_token") for k, v in body.items())
    claims = issuer.verify(body["access_token"], audience="https://vault.azure.net")
    ctl = cloud.controller
    assert (claims["oid"], claims["appid"], claims["xms_mirid"]) == (ctl.principal_id, ctl.client_id,
                                                                     ctl.resource_id)
    assert body["client_id"] == ctl.client_id and body["expires_on"] == str(claims["exp"])
    assert body["not_before"] == str(claims["nbf"]) and body["resource"] == "https://vault.azure.net"
    assert int(body["expires_in"]) == 86399


@pytest.mark.parametrize("selector", ["client_id", "object_id", "msi_res_id", "mi_res_id"])
def test_selectors(imds, cloud, selector):
    ident = cloud.ids[0]
    cloud.state.assign_identity(cloud.vmss_id, ident.resource_id)
    value = {"client_id": ident.client_id, "object_id": ident.principal_id}.get(selector, ident.resource_id.upper())
    r = http(token_url(imds, **{selector: value}), headers=MD)
    assert r.status == 200 and r.json()["client_id"] == ident.client_id


def test_identity_not_on_node_is_not_found(imds, cloud):
    r = http(token_url(imds, client_id=cloud.ids[0].client_id), headers=MD)
    assert (r.status, r.body) == (400, IDENTITY_NOT_FOUND) and len(r.body) == 68


def test_identity_follows_arm_state(imds, cloud):
    ident = cloud.ids[1]
    url = token_url(imds, client_id=ident.client_id)
    assert http(url, headers=MD).status == 400
    cloud.state.assign_identity(cloud.vmss_id, ident.resource_id)
    assert http(url, headers=MD).status == 200
    cloud.state.delete_identity(ident.resource_id)
    assert http(url, headers=MD).body == IDENTITY_NOT_FOUND
    cloud.state.unassign_identity(cloud.vmss_id, ident.resource_id)
    assert http(url, headers=MD).body == IDENTITY_NOT_FOUND


def test_multiple_uamis_need_a_selector(imds, cloud):
    cloud.state.assign_identity(cloud.vmss_id, cloud.ids[0].resource_id)
    r = http(token_url(imds), headers=MD)
    assert (r.status, r.body) == (400, MULTIPLE_IDENTITIES)


def test_system_assigned_wins_without_selector(imds, cloud, issuer):
    cloud.state.assign_identity(cloud.vmss_id, cloud.ids[0].resource_id)
    cloud.state.set_system_assigned(cloud.vmss_id, True)
    c = cloud.state.compute(cloud.vmss_id)
    body = http(token_url(imds), headers=MD).json()
    claims = issuer.verify(body["access_token"], audience="https://vault.azure.net")
    assert (claims["oid"], body["client_id"], claims["xms_mirid"]) == (c.system_principal_id, c.system_client_id,
                                                                       c.resource_id)


def test_no_identity_at_all(cloud, issuer):
    cloud.state.add_vm("rg", "lonely")
    emu = ImdsEmulator(cloud.state, issuer, vm="lonely")
    with emu.serve() as srv:
        emu.url = srv.url
        assert http(token_url(emu), headers=MD).body == IDENTITY_NOT_FOUND


def test_other_instance_of_same_vmss_sees_same_identities(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm=cloud.vmss_id, instance="aks-nodepool1-vmss000001")
    with emu.serve() as srv:
        emu.url = srv.url
        assert http(token_url(emu), headers=MD).json()["client_id"] == cloud.controller.client_id


@pytest.mark.parametrize("query,fragment", [
    ("resource=x", b"api-version is invalid"),
    ("api-version=2017-12-01&resource=x", b"api-version is invalid"),
    ("api-version=2099-01-01&resource=x", b"api-version is invalid"),
    ("api-version=2018-02-01", b"'resource' is missing"),
    ("api-version=2018-02-01&resource=x&resource=y", b"Duplicate query parameter"),
    ("api-version=2018-02-01&resource=x&client_id=a&object_id=b", b"Only one of"),
])
def test_bad_queries(imds, query, fragment):
    r = http(imds.url + TOKEN + "?" + query, headers=MD)
    assert r.status == 400 and fragment in r.body


def test_unencoded_resource_is_accepted(imds):
    r = http(imds.url + TOKEN + "?resource=https://vault.azure.net&api-version=2018-02-01", headers=MD)
    assert r.status == 200 and r.json()["resource"] == "https://vault.azure.net"


def test_unknown_resource_is_aadsts500011(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm=cloud.vmss_id, resources={"https://vault.azure.net"})
    with emu.serve() as srv:
        emu.url = srv.url
        r = http(token_url(emu, resource="https://nope.example"), headers=MD)
        assert r.status == 400 and r.json()["error"] == "invalid_resource"
        assert r.json()["error_description"].startswith("AADSTS500011: The resource principal named "
                                                        "https://nope.example was not found")
        assert http(token_url(emu, resource="https://vault.azure.net/"), headers=MD).status == 200


def test_metadata_segment_is_case_insensitive_and_post_is_405(imds):
    assert http(imds.url + "/METADATA/identity/oauth2/token?api-version=2018-02-01&resource=x",
                headers=MD).status == 200
    assert http(imds.url + "/metadata/IDENTITY/oauth2/token", headers=MD).status == 404
    assert http(token_url(imds), method="POST", headers=MD, body=b"").status == 405


def test_token_lifetime_is_configurable(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm=cloud.vmss_id, token_ttl_s=120)
    with emu.serve() as srv:
        emu.url = srv.url
        body = http(token_url(emu), headers=MD).json()
        assert body["expires_in"] == "120"
        assert jwt.decode(body["access_token"], options={"verify_signature": False})["exp"] == int(body["expires_on"])


def test_trailing_slash_as_msal_node_sends_with_the_override(imds):
    r = http(imds.url + TOKEN + "/?api-version=2018-02-01&resource=x", headers=MD)
    assert r.status == 200
