# SPDX-License-Identifier: Apache-2.0
"""ARM front door (bearer audiences, throttling budgets, faults) and long-running updates (reference §5.1, §5.4,
§5.5), including when the node's IMDS starts serving an identity the controller added."""
from __future__ import annotations

import time

import pytest

from imds_arm_support import http

API = "?api-version=2019-12-01"
MD = {"Metadata": "true"}


def patch_add(arm, cloud, token, rid):
    return http(arm.url + cloud.vmss_id + API, method="PATCH", headers={"Authorization": "Bearer " + token},
                body={"identity": {"type": "UserAssigned", "userAssignedIdentities": {rid: {}}}})


@pytest.mark.parametrize("aud", ["https://management.azure.com/", "https://management.azure.com",
                                 "https://management.core.windows.net/", "https://management.core.windows.net"])
def test_accepted_audiences(arm, cloud, issuer, aud):
    token, _ = issuer.issue(audience=aud, oid=cloud.controller.principal_id, appid=cloud.controller.client_id)
    assert http(arm.url + cloud.vmss_id + API, headers={"Authorization": "Bearer " + token}).status == 200


def test_wrong_audience(arm, cloud, issuer):
    token, _ = issuer.issue(audience="https://vault.azure.net", oid=cloud.controller.principal_id, appid="x")
    r = http(arm.url + cloud.vmss_id + API, headers={"Authorization": "Bearer " + token})
    assert r.status == 401 and r.json() == {"error": {"code": "InvalidAuthenticationTokenAudience", "message":
        "The access token has been obtained for wrong audience or resource 'https://vault.azure.net'. It should "
        "exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
        "'https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."}}
    assert "WWW-Authenticate" in r.headers


def test_missing_expired_and_forged_tokens(arm, cloud, issuer):
    r = http(arm.url + cloud.vmss_id + API)
    assert r.status == 401 and r.json()["error"] == {
        "code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}
    old, _ = issuer.issue(audience="https://management.azure.com/", oid=cloud.controller.principal_id, appid="x",
                          ttl_s=60, now=int(time.time()) - 3600)
    r = http(arm.url + cloud.vmss_id + API, headers={"Authorization": "Bearer " + old})
    assert r.status == 401 and r.json()["error"]["code"] == "ExpiredAuthenticationToken"
    from podid_harness.azure.tokens import TokenIssuer
    forged, _ = TokenIssuer(tenant_id=issuer.tenant_id).issue(audience="https://management.azure.com/",
                                                              oid=cloud.controller.principal_id, appid="x")
    r = http(arm.url + cloud.vmss_id + API, headers={"Authorization": "Bearer " + forged})
    assert r.status == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_read_and_write_budgets(arm, cloud, arm_token):
    arm.limits(reads=2, writes=1, retry_after_s=1)
    auth = {"Authorization": "Bearer " + arm_token}
    reads = [http(arm.url + cloud.vmss_id + API, headers=auth) for _ in range(3)]
    assert [r.status for r in reads] == [200, 200, 429]
    assert [r.headers["x-ms-ratelimit-remaining-subscription-reads"] for r in reads] == ["1", "0", "0"]
    assert reads[2].headers["Retry-After"] == "1"
    err = reads[2].json()["error"]
    assert err["code"] == "OperationNotAllowed" and err["details"][0]["code"] == "TooManyRequests"
    assert err["message"] == ("The server rejected the request because too many requests have been received for "
                              "this subscription.")
    assert patch_add(arm, cloud, arm_token, cloud.ids[0].resource_id).status == 200
    w = patch_add(arm, cloud, arm_token, cloud.ids[1].resource_id)
    assert w.status == 429 and w.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
    time.sleep(1.1)
    assert http(arm.url + cloud.vmss_id + API, headers=auth).status == 200
    assert arm.counters["GET vmss"] == 4 and arm.counters["PATCH vmss"] == 2


def test_injected_arm_fault(arm, cloud, arm_token):
    arm.faults.add(500, count=1, method="PATCH")
    assert patch_add(arm, cloud, arm_token, cloud.ids[0].resource_id).status == 500
    assert patch_add(arm, cloud, arm_token, cloud.ids[0].resource_id).status == 200
    assert [e.status for e in arm.log.entries(op="PATCH vmss")] == [500, 200]


def test_long_running_update_and_imds_visibility(arm, imds, cloud, arm_token):
    ident = cloud.ids[0]
    token_url = (imds.url + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x&client_id="
                 + ident.client_id)
    r = patch_add(arm, cloud, arm_token, ident.resource_id)
    assert r.status == 200 and r.json()["properties"]["provisioningState"] == "Updating"
    # The model already shows the identity; the node cannot use it until the operation completes.
    assert ident.resource_id in r.json()["identity"]["userAssignedIdentities"]
    assert http(token_url, headers=MD).status == 400
    status_url = r.headers["Azure-AsyncOperation"]
    assert status_url.startswith(arm.url + f"/subscriptions/{cloud.state.default_subscription}/providers/"
                                            "Microsoft.Compute/locations/eastus/operations/")
    auth = {"Authorization": "Bearer " + arm_token}
    first, second = http(status_url, headers=auth).json(), http(status_url, headers=auth).json()
    assert first["status"] == "InProgress" and "endTime" not in first
    assert second["status"] == "Succeeded" and second["endTime"] and second["name"] == first["name"]
    assert http(arm.url + cloud.vmss_id + API, headers=auth).json()["properties"]["provisioningState"] == \
        "Succeeded"
    assert http(token_url, headers=MD).status == 200
    assert arm.counters["GET operation"] == 2


def test_second_update_preempts_the_first(arm, cloud, arm_token):
    r1 = patch_add(arm, cloud, arm_token, cloud.ids[0].resource_id)
    r2 = patch_add(arm, cloud, arm_token, cloud.ids[1].resource_id)
    auth = {"Authorization": "Bearer " + arm_token}
    first = http(r1.headers["Azure-AsyncOperation"], headers=auth).json()
    assert first["status"] == "Failed" and first["error"]["code"] == "OperationPreempted"
    for _ in range(2):
        last = http(r2.headers["Azure-AsyncOperation"], headers=auth).json()
    assert last["status"] == "Succeeded"
    assert cloud.state.compute(cloud.vmss_id).effective.keys() >= {i.resource_id.lower() for i in cloud.ids[:2]}


def test_synchronous_mode(cloud, issuer, arm_token):
    from podid_harness.azure.arm import ArmEmulator
    emu = ArmEmulator(cloud.state, issuer, lro=False)
    with emu.serve() as srv:
        emu.url = srv.url
        r = patch_add(emu, cloud, arm_token, cloud.ids[0].resource_id)
    assert r.status == 200 and "Azure-AsyncOperation" not in r.headers
    assert r.json()["properties"]["provisioningState"] == "Succeeded"
    assert cloud.ids[0].resource_id.lower() in cloud.state.compute(cloud.vmss_id).effective


def test_unknown_path(arm, arm_token):
    r = http(arm.url + "/providers/Microsoft.Foo?api-version=2020-01-01", headers={"Authorization": "Bearer " +
                                                                                     arm_token})
    assert r.status == 404 and r.json()["error"]["code"] == "InvalidResourceType"
