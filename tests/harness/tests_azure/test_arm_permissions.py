# SPDX-License-Identifier: Apache-2.0
"""ARM's permissions API (Microsoft.Authorization/permissions, api-version 2022-04-01) as the emulator answers it:
the caller's role assignments in force at a scope, as actions and notActions, from the same assignments the
emulator's RBAC checks enforce. `podid doctor` reads it to say which role the controller lacks."""
from __future__ import annotations

import fnmatch

from imds_arm_support import http

from podid_harness.azure.state import rg_id

API = "?api-version=2022-04-01"
SUFFIX = "/providers/Microsoft.Authorization/permissions"


def permissions(arm, token, scope):
    return http(arm.url + scope + SUFFIX + API, headers={"Authorization": "Bearer " + token})


def grants(entries, action):
    """ARM's rule: an entry's actions match and none of that entry's notActions do."""
    match = lambda patterns: any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)  # noqa: E731
    return any(match(e["actions"]) and not match(e["notActions"]) for e in entries)


def test_lists_roles_in_force_at_and_above_the_scope(arm, cloud, arm_token):
    at_vmss = permissions(arm, arm_token, cloud.vmss_id)
    assert at_vmss.status == 200
    assert grants(at_vmss.json()["value"], "Microsoft.Compute/virtualMachineScaleSets/write")
    assert not grants(at_vmss.json()["value"], "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
    at_identity = permissions(arm, arm_token, cloud.ids[0].resource_id).json()["value"]
    assert grants(at_identity, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
    assert all(set(e) == {"actions", "notActions", "dataActions", "notDataActions"} for e in at_identity)
    assert arm.counters["GET permissions"] == 2


def test_follows_role_changes(arm, cloud, arm_token):
    node_rg = rg_id(cloud.state.default_subscription, cloud.node_rg)
    cloud.state.remove_role(cloud.controller.principal_id, "Virtual Machine Contributor", node_rg)
    assert permissions(arm, arm_token, cloud.vmss_id).json() == {"value": []}
    cloud.state.assign_role(cloud.controller.principal_id, "Contributor", cloud.vmss_id)
    entries = permissions(arm, arm_token, cloud.vmss_id).json()["value"]
    assert grants(entries, "Microsoft.Compute/virtualMachineScaleSets/write")
    # Contributor's notActions withhold role assignments, in the listing and in the RBAC check alike.
    assert not grants(entries, "Microsoft.Authorization/roleAssignments/write")
    assert not cloud.state.allowed(cloud.controller.principal_id, "Microsoft.Authorization/roleAssignments/write",
                                   cloud.vmss_id)


def test_subscription_scope_and_unknown_scopes(arm, cloud, arm_token):
    sub = f"/subscriptions/{cloud.state.default_subscription}"
    assert permissions(arm, arm_token, sub).json() == {"value": []}   # roles are on groups, not the subscription
    missing_rg = permissions(arm, arm_token, rg_id(cloud.state.default_subscription, "no-such-rg"))
    assert missing_rg.status == 404 and missing_rg.json()["error"]["code"] == "ResourceGroupNotFound"
    assert permissions(arm, arm_token, "/subscriptions/00000000-0000-0000-0000-00000000dead").status == 404


def test_needs_a_token(arm, cloud):
    r = http(arm.url + cloud.vmss_id + SUFFIX + API)
    assert r.status == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
