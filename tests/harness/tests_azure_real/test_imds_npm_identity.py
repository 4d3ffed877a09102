# SPDX-License-Identifier: Apache-2.0
"""@azure/identity (npm) ManagedIdentityCredential and DefaultAzureCredential against the IMDS emulator: requests
as the reference captured them, and retries as in its table (azure-wire-formats.md §3.1)."""
from __future__ import annotations

import jwt
import pytest

TOKEN = r"/metadata/identity/oauth2/token"


def claims(result) -> dict:
    assert result["ok"], result
    return jwt.decode(result["token"], options={"verify_signature": False})


@pytest.fixture
def mi(node_sdk, imds):
    """ManagedIdentityCredential pointed at the emulator by its documented override."""
    return lambda args=None, **kw: node_sdk({"credential": "managed", **(args or {})},
                                            AZURE_POD_IDENTITY_AUTHORITY_HOST=imds.url, **kw)


def test_system_assigned(mi, imds, cloud):
    cloud.set_system_assigned(cloud.vmss.resource_id, True)
    c = claims(mi())
    assert c["oid"] == cloud.vmss.system_principal_id and c["aud"] == "https://vault.azure.net"
    (entry,) = imds.log.entries(TOKEN)
    # msal-node adds a slash to the path when the override is set (see imds.py TOKEN_PATH).
    assert entry.raw_path == TOKEN + "/?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
    assert entry.header("metadata") == "true" and entry.header("x-client-sku") == "msal.js.node"


@pytest.mark.parametrize("how", ["clientId", "resourceId", "objectId"])
def test_user_assigned_selectors(mi, imds, cloud, how):
    ident = cloud.ids[0]
    cloud.assign_identity(cloud.vmss.resource_id, ident.resource_id)
    value = {"clientId": ident.client_id, "resourceId": ident.resource_id, "objectId": ident.principal_id}[how]
    assert claims(mi({how: value}))["appid"] == ident.client_id
    sent = {"clientId": "client_id", "resourceId": "msi_res_id", "objectId": "object_id"}[how]
    (entry,) = imds.log.entries(TOKEN)
    assert list(entry.query) == ["api-version", "resource", sent]


def test_token_expiry_is_taken_from_expires_on(mi, cloud):
    r = mi({"clientId": cloud.kubelet.client_id})
    assert abs(r["expiresOnTimestamp"] / 1000 - claims(r)["exp"]) < 2


def test_identity_not_found_is_not_retried(mi, imds, cloud):
    r = mi({"clientId": cloud.ids[1].client_id})
    assert not r["ok"] and r["name"] == "CredentialUnavailableError" and "Identity not found" in r["message"]
    assert len(imds.log.entries(TOKEN)) == 1


def test_404_retried_with_growing_backoff(mi, imds, cloud):
    imds.faults.add(404, count=None, path_regex=TOKEN)
    r = mi({"clientId": cloud.kubelet.client_id}, timeout=60)
    assert not r["ok"]
    gaps = imds.log.gaps(TOKEN)
    assert len(imds.log.entries(TOKEN)) == 6                     # 1 + maxRetries 5
    assert 0.3 < gaps[0] < 1.2 and gaps[-1] > 4 * gaps[0] / 2    # 800 ms base, doubling, 50-100 % jitter


def test_404_then_success(mi, imds, cloud):
    imds.faults.add(404, count=2, path_regex=TOKEN)
    assert claims(mi({"clientId": cloud.kubelet.client_id}))["appid"] == cloud.kubelet.client_id
    assert [e.status for e in imds.log.entries(TOKEN)] == [404, 404, 200]


def test_410_waits_at_least_1_5_s(mi, imds, cloud):
    imds.faults.add(410, count=1, path_regex=TOKEN)
    assert mi({"clientId": cloud.kubelet.client_id})["ok"]
    assert [e.status for e in imds.log.entries(TOKEN)] == [410, 200]
    assert 1.4 < imds.log.gaps(TOKEN)[0] < 3.5                   # 3000 ms base with jitter


def test_429_without_retry_after_is_not_retried(mi, imds, cloud):
    imds.faults.add(429, count=None, path_regex=TOKEN)
    assert not mi({"clientId": cloud.kubelet.client_id})["ok"]
    assert len(imds.log.entries(TOKEN)) == 1


def test_429_with_retry_after_is_retried_3_times(mi, imds, cloud):
    imds.faults.add(429, retry_after=1, count=None, path_regex=TOKEN)
    assert not mi({"clientId": cloud.kubelet.client_id})["ok"]
    assert len(imds.log.entries(TOKEN)) == 4
    assert all(0.9 < g < 2.0 for g in imds.log.gaps(TOKEN))


def test_500_retried_3_times(mi, imds, cloud):
    imds.faults.add(500, count=None, path_regex=TOKEN)
    r = mi({"clientId": cloud.kubelet.client_id, "retryOptions": {"retryDelayInMs": 200}})
    assert not r["ok"]
    assert len(imds.log.entries(TOKEN)) == 4
    gaps = imds.log.gaps(TOKEN)
    assert gaps[0] < 0.5 and gaps[-1] < 2.0


def test_reset_connection_then_success(mi, imds, cloud):
    imds.faults.add(reset=True, count=1, path_regex=TOKEN)
    r = mi({"clientId": cloud.kubelet.client_id, "retryOptions": {"retryDelayInMs": 100}})
    assert r["ok"] and len(imds.log.entries(TOKEN)) == 2


def test_default_credential_probes_then_asks(node_sdk, imds_link_local, cloud):
    """No override: DefaultAzureCredential probes 169.254.169.254 (here, the emulator in this netns) first."""
    r = node_sdk({"credential": "default", "managedIdentityClientId": cloud.kubelet.client_id})
    assert claims(r)["appid"] == cloud.kubelet.client_id
    probe, request = imds_link_local.log.entries(TOKEN)
    assert probe.raw_path == "/metadata/identity/oauth2/token" and probe.header("metadata") is None
    assert probe.status == 400 and request.status == 200
    assert request.query["client_id"] == [cloud.kubelet.client_id]
