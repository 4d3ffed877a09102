# SPDX-License-Identifier: Apache-2.0
"""Debian's azure-cli against the emulators: `az login --identity` through the IMDS emulator at 169.254.169.254
(in this session's own network namespace: az has no endpoint override), then `az vmss identity assign/show/remove`
against the ARM emulator over HTTPS, registered as a custom cloud.

Why the custom cloud uses the `2020-09-01-hybrid` API profile: Debian bookworm's azure-cli 2.45.0-1 pins compute
api-version 2022-11-01 in its `latest` profile, but Debian's python3-azure (20230112) ships azure-mgmt-compute
29.0.0, whose newest compute version is 2022-08-01, so every `az vmss` command fails before sending a request
(`ValueError: API version 2022-11-01 does not have operation group 'virtual_machine_scale_sets'`).
`test_latest_profile_is_broken_by_debian_packaging` keeps that proof and fails once Debian fixes it.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from podid_harness.azure.arm import ArmEmulator
from podid_harness.azure.tlsca import TestCA

if shutil.which("az") is None:
    pytest.skip("azure-cli missing: apt-get install -y azure-cli", allow_module_level=True)

CLOUD = "PodidEmulator"


@pytest.fixture
def az(tmp_path, clean_env, cloud, issuer, imds_link_local):
    """`az(*args)` with its own config dir and the test CA; `az.register(profile)`, `az.arm` (the emulator)."""
    ca = TestCA()   # its own private temporary directory, removed by close()
    arm = ArmEmulator(cloud, issuer)
    env = clean_env(AZURE_CONFIG_DIR=str(tmp_path / "azure"), REQUESTS_CA_BUNDLE=ca.bundle_path,
                    AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_OUTPUT="json")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(["az", *args], env=env, capture_output=True, text=True, timeout=120)
        if check:
            assert out.returncode == 0, f"az {' '.join(args)}: {out.stderr[-3000:]}"
        return out

    def register(profile: str) -> None:
        run("cloud", "register", "-n", CLOUD, "--profile", profile, "--endpoint-resource-manager", srv.url + "/",
            "--endpoint-active-directory", "https://login.microsoftonline.com",
            "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
            "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
            "--endpoint-management", "https://management.core.windows.net/")
        run("cloud", "set", "-n", CLOUD)

    try:
        with arm.serve(tls=ca.server_context()) as srv:
            run.register, run.arm = register, arm
            yield run
    finally:
        ca.close()


def test_assign_show_remove(az, cloud, imds_link_local):
    az.register("2020-09-01-hybrid")
    # The kubelet identity by client id: with several identities on the VMSS a system-assigned login would get
    # IMDS's "Multiple user assigned identities exist" (as on Azure).
    login = json.loads(az("login", "--identity", "--username", cloud.kubelet.client_id).stdout)
    assert [a["id"] for a in login] == [cloud.default_subscription]
    assert imds_link_local.log.entries()[0].query["client_id"] == [cloud.kubelet.client_id]
    rg, name, wid = "MC_rg_aks_eastus", "aks-nodepool1-vmss", cloud.ids[0].resource_id

    out = json.loads(az("vmss", "identity", "assign", "-g", rg, "-n", name, "--identities", wid).stdout)
    assert set(out["userAssignedIdentities"]) == {cloud.kubelet.resource_id, wid}
    assert cloud.assigned_ids(cloud.vmss.resource_id) == {cloud.kubelet.resource_id.lower(), wid.lower()}
    assert az.arm.counters["PATCH vmss"] == 1 and az.arm.counters["GET operation"] >= 2
    (patch,) = az.arm.log.entries(op="PATCH vmss")
    assert patch.query["api-version"] == ["2020-06-01"]

    shown = json.loads(az("vmss", "identity", "show", "-g", rg, "-n", name).stdout)
    assert shown["type"] == "UserAssigned" and wid in shown["userAssignedIdentities"]

    az("vmss", "identity", "remove", "-g", rg, "-n", name, "--identities", wid)
    assert cloud.assigned_ids(cloud.vmss.resource_id) == {cloud.kubelet.resource_id.lower()}
    shown = json.loads(az("vmss", "identity", "show", "-g", rg, "-n", name).stdout)
    assert list(shown["userAssignedIdentities"]) == [cloud.kubelet.resource_id]


def test_assign_without_operator_role_fails_like_azure(az, cloud):
    az.register("2020-09-01-hybrid")
    az("login", "--identity", "--username", cloud.kubelet.client_id)
    outsider = cloud.add_identity("elsewhere", "outsider")
    out = az("vmss", "identity", "assign", "-g", "MC_rg_aks_eastus", "-n", "aks-nodepool1-vmss", "--identities",
             outsider.resource_id, check=False)
    assert out.returncode != 0 and "LinkedAuthorizationFailed" in out.stderr
    assert outsider.resource_id in out.stderr


def test_latest_profile_is_broken_by_debian_packaging(az, cloud):
    az.register("latest")
    az("login", "--identity", "--username", cloud.kubelet.client_id)
    out = az("vmss", "identity", "show", "-g", "MC_rg_aks_eastus", "-n", "aks-nodepool1-vmss", check=False)
    assert out.returncode != 0
    assert "API version 2022-11-01 does not have operation group 'virtual_machine_scale_sets'" in out.stderr
    assert az.arm.counters["GET vmss"] == 0      # it fails before any request: not an emulator problem
