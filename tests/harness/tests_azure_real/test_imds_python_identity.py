# SPDX-License-Identifier: Apache-2.0
"""Debian's python3-azure (azure-identity 1.13.0b2 in bookworm) ManagedIdentityCredential against the IMDS
emulator. That release predates the 410 handling of azure-identity 1.24 (reference §3.4): 410 is not retried."""
from __future__ import annotations

import jwt
import pytest

azure_identity = pytest.importorskip("azure.identity", reason="apt-get install -y python3-azure")
from azure.core.exceptions import ClientAuthenticationError  # noqa: E402
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential  # noqa: E402

TOKEN = r"/metadata/identity/oauth2/token"
SCOPE = "https://vault.azure.net/.default"
FAST = {"retry_backoff_factor": 0.05}   # the SDK's own knob; keeps retry tests short without changing counts


@pytest.fixture
def env(pod_env, imds):
    """The IMDS emulator, reached through the SDK's documented override."""
    pod_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.url)
    return imds


def oid(token) -> str:
    return jwt.decode(token.token, options={"verify_signature": False})["oid"]


def test_version_is_the_one_documented():
    assert azure_identity.__version__ == "1.13.0b2"


def test_system_assigned(env, cloud):
    cloud.set_system_assigned(cloud.vmss.resource_id, True)
    assert oid(ManagedIdentityCredential().get_token(SCOPE)) == cloud.vmss.system_principal_id
    (e,) = env.log.entries(TOKEN)
    assert e.query == {"api-version": ["2018-02-01"], "resource": ["https://vault.azure.net"]}
    assert e.header("metadata") == "true"


@pytest.mark.parametrize("how", ["client_id", "object_id", "msi_res_id"])
def test_user_assigned(env, cloud, how):
    ident = cloud.ids[0]
    cloud.assign_identity(cloud.vmss.resource_id, ident.resource_id)
    value = {"client_id": ident.client_id, "object_id": ident.principal_id, "msi_res_id": ident.resource_id}[how]
    cred = ManagedIdentityCredential(client_id=value) if how == "client_id" else \
        ManagedIdentityCredential(identity_config={how: value})
    token = cred.get_token(SCOPE)
    assert oid(token) == ident.principal_id
    assert env.log.entries(TOKEN)[0].query[how] == [value]


def test_identity_not_found(env, cloud):
    with pytest.raises(CredentialUnavailableError, match="requested identity has not been assigned"):
        ManagedIdentityCredential(client_id=cloud.ids[1].client_id).get_token(SCOPE)
    assert len(env.log.entries(TOKEN)) == 1


@pytest.mark.parametrize("status", [404, 429, 500])
def test_retried_statuses(env, cloud, status):
    env.faults.add(status, count=2, path_regex=TOKEN)
    token = ManagedIdentityCredential(client_id=cloud.kubelet.client_id, **FAST).get_token(SCOPE)
    assert oid(token) == cloud.kubelet.principal_id
    assert [e.status for e in env.log.entries(TOKEN)] == [status, status, 200]


def test_retry_gives_up_after_5_retries(env, cloud):
    env.faults.add(500, count=None, path_regex=TOKEN)
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential(client_id=cloud.kubelet.client_id, **FAST).get_token(SCOPE)
    assert len(env.log.entries(TOKEN)) == 6


def test_410_not_retried_by_this_release(env, cloud):
    env.faults.add(410, count=1, path_regex=TOKEN)
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential(client_id=cloud.kubelet.client_id, **FAST).get_token(SCOPE)
    assert len(env.log.entries(TOKEN)) == 1


def test_default_credential_probe(pod_env, imds_link_local, cloud):
    """No override: the chain probes 169.254.169.254 with the full query and no Metadata header (reference §3.4)."""
    cred = DefaultAzureCredential(managed_identity_client_id=cloud.kubelet.client_id,
                                  exclude_cli_credential=True, exclude_powershell_credential=True,
                                  exclude_visual_studio_code_credential=True, exclude_shared_token_cache_credential=True)
    assert oid(cred.get_token(SCOPE)) == cloud.kubelet.principal_id
    probe, request = imds_link_local.log.entries(TOKEN)
    assert probe.header("metadata") is None and probe.query["client_id"] == [cloud.kubelet.client_id]
    assert (probe.status, request.status) == (400, 200) and request.header("metadata") == "true"
