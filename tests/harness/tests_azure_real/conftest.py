# SPDX-License-Identifier: Apache-2.0
"""Real Azure clients (npm @azure/identity, Debian python3-azure and azure-cli) against the IMDS and ARM emulators.

These clients default to the real IMDS at 169.254.169.254, which answers on this machine. So the whole session
must run in a network namespace holding only loopback (scripts/in-isolated-netns): the session fixture below
refuses to run otherwise, before any client starts.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from podid_harness.azure.imds import ImdsEmulator
from podid_harness.azure.state import AzureState, Compute, Identity, rg_id
from podid_harness.azure.tokens import TokenIssuer
from podid_harness.httpbase import EmulatorServer

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
LINK_LOCAL = "169.254.169.254"
# Addresses that must be unreachable from this session: the real IMDS and the Azure WireServer.
_FORBIDDEN = ((LINK_LOCAL, 80), ("168.63.129.16", 80))


def pytest_configure(config):
    config.addinivalue_line("markers", "real_client: drives a real Azure SDK or tool (npm, Debian) against the "
                                       "emulators; needs an isolated network namespace")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.real_client)


def _reachable(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.5):
            return True
    except OSError:
        return False


def _loopback_only() -> bool:
    """True when this network namespace has no interface but `lo` (inside in-isolated-netns): only then may the
    tests put an address of their own on it."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture(scope="session", autouse=True)
def isolated_network():
    for addr in _FORBIDDEN:
        if _reachable(addr):
            pytest.fail(f"{addr[0]}:{addr[1]} is reachable: run this suite through scripts/in-isolated-netns so "
                        "that no client can reach the real IMDS or WireServer", pytrace=False)


@pytest.fixture(scope="session")
def issuer() -> TokenIssuer:
    return TokenIssuer()


class NodePoolCloud(AzureState):
    """The emulated cloud plus the handles these tests use."""
    vmss: Compute
    kubelet: Identity             # on the VMSS; holds the controller's roles
    ids: list[Identity]           # workload identities, not on the VMSS


@pytest.fixture
def cloud(issuer) -> NodePoolCloud:
    """A node pool VMSS carrying the kubelet identity (which also acts as controller), two workload identities."""
    s = NodePoolCloud(tenant_id=issuer.tenant_id)
    vmss = s.add_vmss("MC_rg_aks_eastus", "aks-nodepool1-vmss", instances=["0"])
    kubelet = s.add_identity("MC_rg_aks_eastus", "aks-agentpool")
    s.assign_identity(vmss.resource_id, kubelet.resource_id)
    s.assign_role(kubelet.principal_id, "Virtual Machine Contributor", rg_id(s.default_subscription,
                                                                             "MC_rg_aks_eastus"))
    s.assign_role(kubelet.principal_id, "Managed Identity Operator", rg_id(s.default_subscription, "workloads"))
    s.ids = [s.add_identity("workloads", f"id-{i}") for i in range(2)]
    s.kubelet, s.vmss = kubelet, vmss
    return s


@pytest.fixture
def imds(cloud, issuer):
    emu = ImdsEmulator(cloud, issuer, vm="aks-nodepool1-vmss")
    with emu.serve() as srv:
        emu.url = srv.url
        yield emu


@pytest.fixture
def imds_link_local(cloud, issuer):
    """The IMDS emulator at 169.254.169.254:80 itself, for clients that have no endpoint override (azure-cli,
    the DefaultAzureCredential probe). Only ever inside this session's own network namespace: the address is
    added to that namespace's loopback and removed afterwards, so nothing outside it can see or be shadowed."""
    if not _loopback_only() or os.geteuid() != 0 or _reachable((LINK_LOCAL, 80)):
        pytest.skip("needs root inside scripts/in-isolated-netns to put 169.254.169.254 on its loopback")
    subprocess.run(["ip", "addr", "add", f"{LINK_LOCAL}/32", "dev", "lo"], check=True, timeout=10)
    try:
        emu = ImdsEmulator(cloud, issuer, vm="aks-nodepool1-vmss")
        with EmulatorServer(emu, host=LINK_LOCAL, port=80) as srv:
            emu.url = srv.url
            yield emu
    finally:
        subprocess.run(["ip", "addr", "del", f"{LINK_LOCAL}/32", "dev", "lo"], check=False, timeout=10)


_AZURE_VARS = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment a pod would have: no Azure variables of the developer's, plus the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_AZURE_VARS)}
    env.update(extra)
    return env


@pytest.fixture
def pod_env(monkeypatch):
    """Same as _clean_env, for clients running in this process (python3-azure)."""
    for k in list(os.environ):
        if k.startswith(_AZURE_VARS):
            monkeypatch.delenv(k)
    return monkeypatch


@pytest.fixture(scope="session")
def node_sdk():
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@azure" / "identity").is_dir():
        pytest.skip(f"npm packages missing: run `npm ci --prefix {NODE_DIR}` (scripts/install-deps)")

    def run(args: dict, timeout: float = 60, **env: str) -> dict:
        out = subprocess.run(["node", str(NODE_DIR / "get_token.mjs"), json.dumps(args)], capture_output=True,
                             text=True, timeout=timeout, env=_clean_env(**env), cwd=NODE_DIR)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"no result from node: rc={out.returncode} stderr={out.stderr[-2000:]}"
        return json.loads(lines[-1])
    return run


@pytest.fixture
def clean_env():
    return _clean_env
