# SPDX-License-Identifier: Apache-2.0
"""Compute's per-resource limits (x-ms-ratelimit-remaining-resource: one scale set throttled while the
subscription has budget left) and VMSS Flex (the members are VMs of their own, identities assigned per VM)."""
from __future__ import annotations

import time

from imds_arm_support import http

API = "?api-version=2024-07-01"


def test_a_resource_limit_throttles_that_resource_only(arm, cloud, arm_token):
    auth = {"Authorization": "Bearer " + arm_token}
    other = cloud.state.add_vmss(cloud.node_rg, "aks-other-vmss", instances=["0"])
    arm.resource_limits(reads=2, retry_after_s=1)
    reads = [http(arm.url + cloud.vmss_id + API, headers=auth) for _ in range(3)]
    assert [r.status for r in reads] == [200, 200, 429]
    assert [r.headers["x-ms-ratelimit-remaining-resource"] for r in reads] == [
        "Microsoft.Compute/GetVMScaleSet3Min;1", "Microsoft.Compute/GetVMScaleSet3Min;0",
        "Microsoft.Compute/GetVMScaleSet3Min;0"]
    # The subscription has budget left: this is the resource's own limit.
    assert int(reads[2].headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    assert reads[2].headers["Retry-After"] == "1"
    err = reads[2].json()["error"]
    assert err["code"] == "OperationNotAllowed" and err["details"][0]["target"] == "GetVMScaleSet3Min"
    assert http(arm.url + other.resource_id + API, headers=auth).status == 200
    time.sleep(1.1)
    assert http(arm.url + cloud.vmss_id + API, headers=auth).status == 200


def test_a_resource_write_limit_names_the_update_policy(arm, cloud, arm_token):
    arm.resource_limits(writes=1)
    auth = {"Authorization": "Bearer " + arm_token}
    body = {"identity": {"type": "UserAssigned", "userAssignedIdentities": {cloud.ids[0].resource_id: {}}}}
    first = http(arm.url + cloud.vmss_id + API, method="PATCH", headers=auth, body=body)
    assert first.status == 200
    assert first.headers["x-ms-ratelimit-remaining-resource"] == "Microsoft.Compute/UpdateVMScaleSet3Min;0"
    second = http(arm.url + cloud.vmss_id + API, method="PATCH", headers=auth, body=body)
    assert second.status == 429 and int(second.headers["x-ms-ratelimit-remaining-subscription-writes"]) > 0
    assert "x-ms-ratelimit-remaining-resource" not in http(arm.url + cloud.vmss_id + API, headers=auth).headers


def test_flex_members_are_vms_of_the_scale_set(arm, cloud, arm_token):
    auth = {"Authorization": "Bearer " + arm_token}
    vmss, vms = cloud.state.add_flex_vmss(cloud.node_rg, "aks-flex", instances=2)
    got = http(arm.url + vmss.resource_id + API, headers=auth).json()
    assert got["properties"]["orchestrationMode"] == "Flexible"
    vm = http(arm.url + vms[0].resource_id + API, headers=auth).json()
    assert vm["type"] == "Microsoft.Compute/virtualMachines"
    assert vm["properties"]["virtualMachineScaleSet"]["id"] == vmss.resource_id
    assert vm["properties"]["osProfile"]["computerName"] == "aks-flex000000"
    assert vms[0].name.startswith("aks-flex_") and vms[1].instances[0].name == "aks-flex000001"
    # An identity goes on one member, not on its siblings nor on the scale set.
    body = {"identity": {"type": "UserAssigned", "userAssignedIdentities": {cloud.ids[0].resource_id: {}}}}
    assert http(arm.url + vms[0].resource_id + API, method="PATCH", headers=auth, body=body).status == 200
    assert cloud.ids[0].resource_id.lower() in cloud.state.assigned_ids(vms[0].resource_id)
    assert not cloud.state.assigned_ids(vms[1].resource_id) and not cloud.state.assigned_ids(vmss.resource_id)
    assert arm.counters["PATCH vm"] == 1
