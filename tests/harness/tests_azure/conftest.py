# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the IMDS and ARM emulator tests: one tenant, one AKS-like node resource group, and a controller
principal holding the roles podid's controller needs."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from podid_harness.azure.arm import ArmEmulator
from podid_harness.azure.imds import ImdsEmulator
from podid_harness.azure.state import AzureState, Identity, rg_id
from podid_harness.azure.tokens import TokenIssuer


@pytest.fixture(scope="session")
def issuer() -> TokenIssuer:
    return TokenIssuer()   # RSA key generation is the slow part: once per session


@dataclass
class Cloud:
    state: AzureState
    vmss_id: str
    node_rg: str
    controller: Identity          # the principal the controller authenticates as
    ids: list[Identity]           # workload identities, not yet on the VMSS


@pytest.fixture
def cloud(issuer) -> Cloud:
    s = AzureState(tenant_id=issuer.tenant_id)
    vmss = s.add_vmss("MC_rg_aks_eastus", "aks-nodepool1-vmss", instances=["0", "1"])
    ctl = s.add_identity("MC_rg_aks_eastus", "aks-agentpool")
    s.assign_identity(vmss.resource_id, ctl.resource_id)
    ids = [s.add_identity("workloads", f"id-{i}") for i in range(3)]
    s.assign_role(ctl.principal_id, "Virtual Machine Contributor", rg_id(s.default_subscription, "MC_rg_aks_eastus"))
    s.assign_role(ctl.principal_id, "Managed Identity Operator", rg_id(s.default_subscription, "workloads"))
    return Cloud(s, vmss.resource_id, "MC_rg_aks_eastus", ctl, ids)


@pytest.fixture
def imds(cloud, issuer):
    emu = ImdsEmulator(cloud.state, issuer, vm="aks-nodepool1-vmss", instance="0")
    with emu.serve() as srv:
        emu.url = srv.url
        yield emu


@pytest.fixture
def arm(cloud, issuer):
    emu = ArmEmulator(cloud.state, issuer, lro_retry_after_s=0)
    with emu.serve() as srv:
        emu.url = srv.url
        yield emu


@pytest.fixture
def arm_token(cloud, issuer) -> str:
    token, _ = issuer.issue(audience="https://management.azure.com/", oid=cloud.controller.principal_id,
                            appid=cloud.controller.client_id)
    return token
