# SPDX-License-Identifier: Apache-2.0
"""Debian's azure-keyvault-secrets SecretClient.get_secret end to end: credential -> Entra ID emulator -> Key
Vault emulator. The vault is on 127.0.0.1, not *.vault.azure.net, so the SDK's challenge-resource check is
turned off with verify_challenge_resource=False, as the SDK's own error message advises."""
from __future__ import annotations

import pytest

from entra_kv_real_support import python_sdk, sdk_env, tenant  # noqa: F401 (fixtures)

pytestmark = pytest.mark.real_client


def _client(tenant, credential):
    _, secrets = python_sdk()
    return secrets.SecretClient(tenant.kv_url, credential, verify_challenge_resource=False,
                                connection_verify=tenant.ca.bundle_path, retry_total=0)


def _secret_credential(tenant, secret="kv-py-secret"):
    identity, _ = python_sdk()
    app = tenant.entra.register_app(secret=secret)
    cred = identity.ClientSecretCredential(tenant.issuer.tenant_id, app.client_id, secret,
                                           authority=tenant.entra_url, instance_discovery=False,
                                           connection_verify=tenant.ca.bundle_path)
    return app, cred


def test_get_secret_with_client_secret_credential(tenant):
    app, cred = _secret_credential(tenant)
    tenant.kv.allow(app.object_id, ["get"])
    ver = tenant.kv.set_secret("py-db-password", "hunter2", tags={"owner": "podid"})
    secret = _client(tenant, cred).get_secret("py-db-password")
    assert secret.value == "hunter2" and secret.properties.version == ver.version
    assert secret.properties.tags == {"owner": "podid"} and secret.properties.enabled is True
    assert secret.id == f"{tenant.kv_url}/secrets/py-db-password/{ver.version}"


def test_get_secret_with_certificate_credential(tenant):
    identity, _ = python_sdk()
    cert = tenant.ca.issue_client("kv-py-cert")
    app = tenant.entra.register_app(cert=cert)
    tenant.kv.allow(app.object_id, ["get"])
    tenant.kv.set_secret("py-cert-secret", "from-cert")
    cred = identity.CertificateCredential(tenant.issuer.tenant_id, app.client_id, cert.pem_path,
                                          authority=tenant.entra_url, instance_discovery=False,
                                          connection_verify=tenant.ca.bundle_path)
    assert _client(tenant, cred).get_secret("py-cert-secret").value == "from-cert"


def test_versions_are_listed(tenant):
    app, cred = _secret_credential(tenant)
    tenant.kv.allow(app.object_id, ["get", "list"])
    first = tenant.kv.set_secret("py-rotating", "v1")
    second = tenant.kv.set_secret("py-rotating", "v2")
    client = _client(tenant, cred)
    assert [p.version for p in client.list_properties_of_secret_versions("py-rotating")] == \
        [first.version, second.version]
    assert client.get_secret("py-rotating", version=first.version).value == "v1"


def test_denied_surfaces_key_vaults_message(tenant):
    from azure.core.exceptions import HttpResponseError
    app, cred = _secret_credential(tenant, "no-policy")
    tenant.kv.set_secret("py-locked", "x")
    with pytest.raises(HttpResponseError) as info:
        _client(tenant, cred).get_secret("py-locked")
    assert info.value.status_code == 403 and info.value.error.code == "Forbidden"
    assert "does not have secrets get permission on key vault 'podid-real;location=eastus'" in str(info.value)


def test_missing_secret_is_resource_not_found(tenant):
    from azure.core.exceptions import ResourceNotFoundError
    app, cred = _secret_credential(tenant)
    tenant.kv.allow(app.object_id, ["get"])
    with pytest.raises(ResourceNotFoundError) as info:
        _client(tenant, cred).get_secret("py-does-not-exist")
    assert info.value.error.code == "SecretNotFound"
