# SPDX-License-Identifier: Apache-2.0
"""One emulated tenant (Entra ID + Key Vault over HTTPS from a run-time CA) for the real-client suites, and
runners for the npm and Debian SDKs. Every suite here must run inside scripts/in-isolated-netns: clients are
pointed at the emulators explicitly, and any endpoint they were not pointed at fails with no route."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from podid_harness.azure.entra import EntraEmulator
from podid_harness.azure.keyvault import KeyVaultEmulator
from podid_harness.azure.tlsca import TestCA
from podid_harness.azure.tokens import TokenIssuer

NODE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node")
NODE_TIMEOUT_S = 90
VAULT_SCOPE = "https://vault.azure.net/.default"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
# A developer's AZURE_* settings (AZURE_AUTHORITY_HOST, AZURE_REGIONAL_AUTHORITY_NAME, ...) would redirect SDKs.
_AZURE_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_")


def _foreign(name: str) -> bool:
    return name.lower() in _PROXY_VARS or name.startswith(_AZURE_PREFIXES)


@dataclass
class Tenant:
    ca: TestCA
    issuer: TokenIssuer
    entra: EntraEmulator
    kv: KeyVaultEmulator
    entra_url: str
    kv_url: str


@pytest.fixture(scope="module")
def tenant():
    issuer = TokenIssuer()
    entra, kv = EntraEmulator(issuer), KeyVaultEmulator(issuer, name="podid-real")
    with TestCA() as ca:
        tls = ca.server_context()
        with entra.serve(tls=tls) as es, kv.serve(tls=tls) as ks:
            kv.authority = es.url     # the challenge names the emulator, never a real host
            yield Tenant(ca, issuer, entra, kv, es.url, ks.url)


def client_env(ca: TestCA) -> dict[str, str]:
    """The child's environment: no proxies (nothing may leave the machine), no AZURE_*, the test CA trusted."""
    env = {k: v for k, v in os.environ.items() if not _foreign(k)}
    env.update(ca.env())
    return env


@pytest.fixture(autouse=True)
def sdk_env(monkeypatch):
    """The same cleaning for SDKs running in this process (python3-azure)."""
    for name in list(os.environ):
        if _foreign(name):
            monkeypatch.delenv(name)


def run_node(tenant: Tenant, script: str, cfg: dict) -> dict:
    """Run tests/harness/node/<script> with a JSON config; return its one-line JSON answer."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@azure", "identity")):
        pytest.skip(f"npm packages missing: run `npm install` in {NODE_DIR}")
    full = {"tenantId": tenant.issuer.tenant_id, "authorityHost": tenant.entra_url}
    full.update(cfg)
    proc = subprocess.run(["node", script, json.dumps(full)], cwd=NODE_DIR, env=client_env(tenant.ca),
                          capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no answer from {script}: rc={proc.returncode} stderr={proc.stderr[-2000:]}"
    return json.loads(lines[-1])


def python_sdk():
    """Debian's python3-azure modules, or skip with the install line."""
    try:
        import azure.identity as identity
        import azure.keyvault.secrets as secrets
    except ImportError:
        pytest.skip("python3-azure is not installed (apt-get install -y python3-azure); run with /usr/bin/python3")
    return identity, secrets
