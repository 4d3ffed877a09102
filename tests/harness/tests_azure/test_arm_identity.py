# SPDX-License-Identifier: Apache-2.0
"""ARM identity updates on VMSS and VM: merge semantics, type transitions, case, limits, RBAC and Compute's
errors, byte for byte where the reference quotes them (azure-wire-formats.md §5.3, §5.5)."""
from __future__ import annotations

import re

import pytest

from imds_arm_support import http

API = "?api-version=2019-12-01"
# aad-pod-identity's extraction regex (reference §5.5): the quoting of our messages must keep it working.
MIC_RX = re.compile(r"(,?(?i:/subscriptions/[a-zA-Z0-9-_]+/resourcegroups/[a-zA-Z0-9-_]+/providers/"
                    r"Microsoft.ManagedIdentity/userAssignedIdentities/[a-zA-Z0-9-_]+))+")


def patch(arm, cloud, token, identity, url=None):
    return http(arm.url + (url or cloud.vmss_id) + API, method="PATCH", body={"identity": identity},
                headers={"Authorization": "Bearer " + token})


def get(arm, cloud, token, url=None):
    return http(arm.url + (url or cloud.vmss_id) + API, headers={"Authorization": "Bearer " + token})


def uai(*entries) -> dict:
    return {"type": "UserAssigned", "userAssignedIdentities": dict(entries)}


def test_get_shows_identity_block(arm, cloud, arm_token):
    r = get(arm, cloud, arm_token)
    assert r.status == 200 and int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]) == 11999
    body = r.json()
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {cloud.controller.resource_id: {
        "principalId": cloud.controller.principal_id, "clientId": cloud.controller.client_id}}}
    assert body["properties"]["provisioningState"] == "Succeeded" and body["id"] == cloud.vmss_id


def test_patch_merges_adds_and_removes(arm, cloud, arm_token):
    a, b = cloud.ids[0].resource_id.lower(), cloud.ids[1].resource_id
    assert patch(arm, cloud, arm_token, uai((a, {}), (b, {}))).status == 200
    assert cloud.state.assigned_ids(cloud.vmss_id) == {cloud.controller.resource_id.lower(), a, b.lower()}
    assert patch(arm, cloud, arm_token, uai((b.upper().replace("SUBSCRIPTIONS", "subscriptions"), None))).status \
        == 200
    keys = set(get(arm, cloud, arm_token).json()["identity"]["userAssignedIdentities"])
    assert keys == {cloud.controller.resource_id, a}   # stored case kept: the controller's as created, `a` lower


def test_adding_in_other_case_does_not_duplicate(arm, cloud, arm_token):
    a = cloud.ids[0].resource_id
    cloud.state.assign_identity(cloud.vmss_id, a)
    assert patch(arm, cloud, arm_token, uai((a.lower(), {}))).status == 200
    assert list(get(arm, cloud, arm_token).json()["identity"]["userAssignedIdentities"]) == \
        [cloud.controller.resource_id, a]


@pytest.mark.parametrize("sent,after", [
    ({"type": "SystemAssigned, UserAssigned"}, "SystemAssigned, UserAssigned"),
    ({"type": "SystemAssigned,UserAssigned"}, "SystemAssigned, UserAssigned"),
    ({"type": "SystemAssigned"}, "SystemAssigned"),
    ({"type": "None"}, None),
])
def test_type_transitions(arm, cloud, arm_token, sent, after):
    assert patch(arm, cloud, arm_token, sent).status == 200
    ident = get(arm, cloud, arm_token).json().get("identity")
    assert (ident or {}).get("type") == after
    if after and "SystemAssigned" in after:
        assert ident["principalId"] and ident["tenantId"] == cloud.state.tenant_id
    if after == "SystemAssigned, UserAssigned":
        assert list(ident["userAssignedIdentities"]) == [cloud.controller.resource_id]


@pytest.mark.parametrize("identity,message", [
    ({"type": "UserAssigned", "userAssignedIdentities": {}},
     "The identity ids must not be null or empty for 'UserAssigned' identity type."),
    ("REMOVE_LAST", "The identity ids must not be null or empty for 'UserAssigned' identity type."),
    ({"type": "SystemAssigned", "userAssignedIdentities": {"ID0": {}}},
     'ResourceIdentity identityIds should not be provided if the type is "SystemAssigned"'),
    ({"type": "None", "userAssignedIdentities": {"ID0": {}}},
     "a non-UserAssigned identity type should not contain: userAssignedIdentities"),
])
def test_invalid_parameter(arm, cloud, arm_token, identity, message):
    if identity == "REMOVE_LAST":
        identity = uai((cloud.controller.resource_id, None))
    elif "userAssignedIdentities" in identity and "ID0" in identity["userAssignedIdentities"]:
        identity = {**identity, "userAssignedIdentities": {cloud.ids[0].resource_id: {}}}
    r = patch(arm, cloud, arm_token, identity)
    assert r.status == 400 and r.json() == {"error": {"code": "InvalidParameter", "message": message}}


def test_invalid_identity_id(arm, cloud, arm_token):
    r = patch(arm, cloud, arm_token, uai(("/subscriptions/x/resourceGroups/y/providers/Foo/bar/z", {})))
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidIdentityValues"


def test_more_than_150_is_refused_with_azures_message(arm, cloud, arm_token):
    many = [cloud.state.add_identity("workloads", f"bulk-{i}").resource_id for i in range(151)]
    r = patch(arm, cloud, arm_token, uai(*[(m, {}) for m in many]))
    assert r.status == 400 and r.json()["error"]["code"] == "FailedIdentityOperation"
    assert "User Assigned Identities Number '151' Assign exceed limit '150' in one request." in \
        r.json()["error"]["message"]
    assert patch(arm, cloud, arm_token, uai(*[(m, {}) for m in many[:150]])).status == 200


def test_deleted_identity_is_failed_identity_operation(arm, cloud, arm_token):
    gone = cloud.ids[2].resource_id
    cloud.state.delete_identity(gone)
    r = patch(arm, cloud, arm_token, uai((cloud.ids[0].resource_id, {}), (gone, {})))
    inner = '{"error":{"code":"BadRequest","message":"Resource \'%s\' was not found."}}' % gone
    assert r.status == 400 and r.json() == {"error": {"code": "FailedIdentityOperation", "message":
        f"Identity operation for resource '{cloud.vmss_id}' failed with error 'Failed to perform resource identity "
        f"operation. Status: 'BadRequest'. Response: '{inner}'.'."}}
    assert MIC_RX.search(r.json()["error"]["message"]).group(0) == gone
    assert cloud.ids[0].resource_id.lower() not in cloud.state.assigned_ids(cloud.vmss_id)   # all or nothing


def test_patch_keeps_dangling_identity_but_put_fails_on_it(arm, cloud, arm_token):
    a = cloud.ids[0].resource_id
    assert patch(arm, cloud, arm_token, uai((a, {}))).status == 200
    cloud.state.delete_identity(a)
    assert patch(arm, cloud, arm_token, uai((cloud.ids[1].resource_id, {}))).status == 200
    # PUT re-sends every identity, so it needs the operator role on all of them (the node pool's own included).
    cloud.state.assign_role(cloud.controller.principal_id, "Managed Identity Operator", cloud.controller.resource_id)
    full = get(arm, cloud, arm_token).json()
    r = http(arm.url + cloud.vmss_id + API, method="PUT", body=full, headers={"Authorization": "Bearer " + arm_token})
    assert r.status == 400 and r.json()["error"]["code"] == "FailedIdentityOperation"


def test_put_replaces_the_dictionary(arm, cloud, arm_token):
    body = {"location": "eastus", "identity": uai((cloud.ids[0].resource_id, {}))}
    r = http(arm.url + cloud.vmss_id + API, method="PUT", body=body, headers={"Authorization": "Bearer " + arm_token})
    assert r.status == 200
    assert cloud.state.assigned_ids(cloud.vmss_id) == {cloud.ids[0].resource_id.lower()}
    assert arm.counters["PUT vmss"] == 1


def test_missing_write_role_is_authorization_failed(arm, cloud, issuer):
    other = cloud.state.add_identity("workloads", "intruder")
    token, _ = issuer.issue(audience="https://management.azure.com", oid=other.principal_id, appid=other.client_id)
    cloud.state.assign_role(other.principal_id, "Reader", cloud.vmss_id)
    assert get(arm, cloud, token).status == 200
    r = patch(arm, cloud, token, uai((cloud.ids[0].resource_id, {})))
    assert r.status == 403 and r.json() == {"error": {"code": "AuthorizationFailed", "message":
        f"The client '{other.client_id}' with object id '{other.principal_id}' does not have authorization to perform "
        f"action 'Microsoft.Compute/virtualMachineScaleSets/write' over scope '{cloud.vmss_id}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials."}}


def test_missing_operator_role_is_linked_authorization_failed(arm, cloud, arm_token):
    outsider = cloud.state.add_identity("elsewhere", "outsider")
    outsider2 = cloud.state.add_identity("elsewhere", "outsider2")
    r = patch(arm, cloud, arm_token, uai((outsider.resource_id, {}), (cloud.ids[0].resource_id, {}),
                                         (outsider2.resource_id, {})))
    ctl = cloud.controller
    assert r.status == 403 and r.json() == {"error": {"code": "LinkedAuthorizationFailed", "message":
        f"The client '{ctl.client_id}' with object id '{ctl.principal_id}' has permission to perform action "
        f"'Microsoft.Compute/virtualMachineScaleSets/write' on scope '{cloud.vmss_id}'; however, it does not have "
        "permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked "
        f"scope(s) '{outsider.resource_id},{outsider2.resource_id}' or the linked scope(s) are invalid."}}
    assert MIC_RX.search(r.json()["error"]["message"]).group(0) == f"{outsider.resource_id},{outsider2.resource_id}"
    # Removing needs no operator role on the identity.
    cloud.state.assign_identity(cloud.vmss_id, outsider.resource_id)
    assert patch(arm, cloud, arm_token, uai((outsider.resource_id, None))).status == 200


def test_deleting_vmss_is_409(arm, cloud, arm_token):
    cloud.state.set_provisioning_state(cloud.vmss_id, "Deleting")
    r = patch(arm, cloud, arm_token, uai((cloud.ids[0].resource_id, {})))
    assert r.status == 409 and r.json()["error"]["code"] == "OperationNotAllowed"
    assert "Operation 'Update Virtual Machine Scale Set' is not allowed on Virtual Machine Scale Set " \
           "'aks-nodepool1-vmss' since it is marked for deletion" in r.json()["error"]["message"]


def test_standalone_vm(arm, cloud, arm_token):
    vm = cloud.state.add_vm(cloud.node_rg, "aks-agent-0", system_assigned=True)
    r = patch(arm, cloud, arm_token, {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {
        cloud.ids[0].resource_id: {}}}, url=vm.resource_id)
    assert r.status == 200
    assert get(arm, cloud, arm_token, url=vm.resource_id).json()["identity"]["type"] == "SystemAssigned, UserAssigned"
    assert arm.counters["PATCH vm"] == 1 and arm.counters["GET vm"] == 1


def test_not_found_and_api_versions(arm, cloud, arm_token):
    auth = {"Authorization": "Bearer " + arm_token}
    sub = cloud.state.default_subscription
    r = http(arm.url + cloud.vmss_id.replace("aks-nodepool1-vmss", "nope") + API, headers=auth)
    assert r.status == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    r = http(arm.url + f"/subscriptions/{sub}/resourceGroups/MC_rg_aks_eastus/providers/Microsoft.Compute/"
             "virtualMachineScaleSets/x" + API, headers=auth)
    assert r.status == 404
    r = http(arm.url + f"/subscriptions/{sub}/resourceGroups/nogroup" + API, headers=auth)
    assert r.status in (403, 404)
    assert http(arm.url + cloud.vmss_id, headers=auth).json()["error"]["code"] == "MissingApiVersionParameter"
    assert http(arm.url + cloud.vmss_id + "?api-version=2017-12-01", headers=auth).json()["error"]["code"] == \
        "NoRegisteredProviderFound"
    assert http(arm.url + cloud.vmss_id.upper().replace("SUBSCRIPTIONS", "subscriptions") + API,
                headers=auth).status == 200


def test_identity_resource_group_and_subscriptions(arm, cloud, arm_token):
    auth = {"Authorization": "Bearer " + arm_token}
    ident = cloud.ids[0]
    body = http(arm.url + ident.resource_id + "?api-version=2023-01-31", headers=auth).json()
    assert body["properties"] == {"tenantId": cloud.state.tenant_id, "principalId": ident.principal_id,
                                  "clientId": ident.client_id}
    subs = http(arm.url + "/subscriptions?api-version=2022-12-01", headers=auth).json()["value"]
    assert [s["subscriptionId"] for s in subs] == [cloud.state.default_subscription]
    rg = http(arm.url + f"/subscriptions/{cloud.state.default_subscription}/resourcegroups/mc_rg_aks_eastus"
              "?api-version=2022-09-01", headers=auth).json()
    assert rg["name"] == "MC_rg_aks_eastus"
    vms = http(arm.url + cloud.vmss_id + "/virtualMachines" + API, headers=auth).json()["value"]
    assert [v["properties"]["osProfile"]["computerName"] for v in vms] == ["aks-nodepool1-vmss000000",
                                                                          "aks-nodepool1-vmss000001"]
