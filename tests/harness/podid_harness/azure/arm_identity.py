# SPDX-License-Identifier: Apache-2.0
"""The `identity` block of a VMSS or VM as Compute's resource provider treats it (reference §5.3).

Pure functions over `state.Compute`, no HTTP: `plan_identity_update` validates a PATCH/PUT body against the
current state and returns either the new (system-assigned, user-assigned set) or an ARM error; `render_*`
produce the GET bodies. Kept apart from routing so the rules can be read, and tested, on their own.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

from .state import AzureState, Compute, Identity, UAMI_TYPE, VMSS_TYPE, key

MAX_IDENTITIES_PER_REQUEST = 150
ASSIGN_ACTION = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
_UAMI_ID = re.compile(r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.managedidentity/"
                      r"userassignedidentities/[^/]+", re.I)
_EMPTY_USER = "The identity ids must not be null or empty for 'UserAssigned' identity type."
_TYPES = {frozenset(): "None", frozenset({"systemassigned"}): "SystemAssigned",
          frozenset({"userassigned"}): "UserAssigned",
          frozenset({"systemassigned", "userassigned"}): "SystemAssigned, UserAssigned"}


@dataclass
class ArmError(Exception):
    status: int
    code: str
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    details: Optional[list] = None

    def body(self) -> dict:
        err: dict = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}


@dataclass
class IdentityPlan:
    system: bool                       # system-assigned identity enabled afterwards
    user: dict[str, str]               # key(id) -> id as stored, afterwards
    linked: list[str]                  # ids the caller must hold assign/action on (as sent)


def invalid(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def failed_identity_operation(c: Compute, inner_message: str) -> ArmError:
    """The RP's wrapper around an identity-RP BadRequest; quoting exactly as Azure's (reference §5.3)."""
    inner = json.dumps({"error": {"code": "BadRequest", "message": inner_message}}, separators=(",", ":"))
    return ArmError(400, "FailedIdentityOperation",
                    f"Identity operation for resource '{c.resource_id}' failed with error 'Failed to perform "
                    f"resource identity operation. Status: 'BadRequest'. Response: '{inner}'.'.")


def _parse_type(raw) -> str:
    if raw is None:
        return ""
    parts = frozenset(p.strip().lower() for p in str(raw).split(",") if p.strip() and p.strip().lower() != "none")
    if str(raw).strip().lower() == "none":
        parts = frozenset()
    if parts not in _TYPES:
        raise invalid(f"The value '{raw}' of parameter 'identity.type' is invalid. Allowed values are 'None', "
                      "'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned'.")
    return _TYPES[parts]


def plan_identity_update(cloud: AzureState, c: Compute, block, *, replace: bool) -> IdentityPlan:
    """PATCH merges (`{}` adds, null removes, unmentioned kept); PUT (`replace`) sets the dictionary whole."""
    if not isinstance(block, dict):
        raise invalid("The value of parameter 'identity' is invalid.")
    current_type = c.identity_type
    itype = _parse_type(block.get("type")) or current_type
    wants_user = "UserAssigned" in itype
    wants_system = "SystemAssigned" in itype
    entries = block.get("userAssignedIdentities")
    if entries is not None and not isinstance(entries, dict):
        raise invalid("The value of parameter 'identity.userAssignedIdentities' is invalid.")
    if entries == {} and wants_user:
        raise invalid(_EMPTY_USER)
    if entries and not wants_user:
        if itype == "SystemAssigned":
            raise invalid('ResourceIdentity identityIds should not be provided if the type is "SystemAssigned"')
        raise invalid("a non-UserAssigned identity type should not contain: userAssignedIdentities")
    entries = entries or {}
    user = {} if (replace or "UserAssigned" not in current_type) else dict(c.user_assigned)
    linked = []
    for rid, value in entries.items():
        if not _UAMI_ID.fullmatch(rid):
            raise ArmError(400, "InvalidIdentityValues", f"Invalid value for the identities '{rid}'. The expected "
                           "format is '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/"
                           "providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identityName}'.")
        if value is None:
            user.pop(key(rid), None)
        else:
            user.setdefault(key(rid), rid)
            linked.append(rid)
    if not wants_user:
        user = {}
    elif not user:
        raise invalid(_EMPTY_USER)
    return IdentityPlan(system=wants_system, user=user, linked=linked)


def check_identity_limits(cloud: AzureState, c: Compute, block, plan: IdentityPlan, *, replace: bool) -> None:
    """The identity RP's checks, after ARM's linked authorization: the 150 cap and existence."""
    entries = (block or {}).get("userAssignedIdentities") or {}
    if len(entries) > MAX_IDENTITIES_PER_REQUEST:
        raise failed_identity_operation(c, f"User Assigned Identities Number '{len(entries)}' Assign exceed "
                                           f"limit '{MAX_IDENTITIES_PER_REQUEST}' in one request.")
    # PUT re-validates every identity it sends; PATCH only the ones it adds (why MIC moved to PATCH, §2.6).
    checked = list(plan.user.values()) if replace else [r for r in plan.linked if key(r) not in c.user_assigned]
    for rid in checked:
        if cloud.identity(rid) is None:
            raise failed_identity_operation(c, f"Resource '{rid}' was not found.")


def render_identity_block(cloud: AzureState, c: Compute) -> Optional[dict]:
    if c.identity_type == "None":
        return None
    out: dict = {"type": c.identity_type}
    if c.system_principal_id:
        out["principalId"] = c.system_principal_id
        out["tenantId"] = cloud.tenant_id
    if c.user_assigned:
        users = {}
        for k, rid in c.user_assigned.items():
            ident: Optional[Identity] = cloud.identity(rid, include_deleted=True)
            users[rid] = ({"principalId": ident.principal_id, "clientId": ident.client_id} if ident else {})
        out["userAssignedIdentities"] = users
    return out


def render_compute(cloud: AzureState, c: Compute) -> dict:
    body: dict = {"name": c.name, "id": c.resource_id, "type": c.kind, "location": c.location, "tags": {}}
    if c.kind == VMSS_TYPE:
        body["sku"] = {"name": "Standard_DS2_v2", "tier": "Standard", "capacity": len(c.instances)}
        props = {"singlePlacementGroup": True, "upgradePolicy": {"mode": c.upgrade_mode}, "overprovision": False,
                 "uniqueId": c.instances[0].vm_id if c.instances else "", "provisioningState": c.provisioning_state,
                 "orchestrationMode": c.orchestration_mode,
                 "virtualMachineProfile": {"osProfile": {"computerNamePrefix": c.name, "adminUsername": "azureuser"},
                                           "storageProfile": {}, "networkProfile": {}}}
    else:
        props = {"vmId": c.instances[0].vm_id, "hardwareProfile": {"vmSize": "Standard_DS2_v2"},
                 "provisioningState": c.provisioning_state, "osProfile": {"computerName": c.instances[0].name}}
        if c.scale_set:
            props["virtualMachineScaleSet"] = {"id": c.scale_set}
    body["properties"] = props
    ident = render_identity_block(cloud, c)
    if ident is not None:
        body["identity"] = ident
    return body


def render_vmss_vm(c: Compute, index: int) -> dict:
    inst = c.instances[index]
    return {"name": f"{c.name}_{inst.instance_id}", "id": f"{c.resource_id}/virtualMachines/{inst.instance_id}",
            "type": f"{VMSS_TYPE}/virtualMachines", "location": c.location, "instanceId": inst.instance_id,
            "properties": {"vmId": inst.vm_id, "provisioningState": "Succeeded", "latestModelApplied": True,
                           "osProfile": {"computerName": inst.name}}}


def render_identity(i: Identity) -> dict:
    return {"id": i.resource_id, "name": i.name, "type": UAMI_TYPE, "location": i.location, "tags": {},
            "properties": {"tenantId": i.tenant_id, "principalId": i.principal_id, "clientId": i.client_id}}


def render_federated_credential(i: Identity, c) -> dict:
    """One federated identity credential as ARM lists it (api-version 2023-01-31); `c` an entra
    FederatedCredential."""
    return {"id": f"{i.resource_id}/federatedIdentityCredentials/{c.name}", "name": c.name,
            "type": f"{UAMI_TYPE}/federatedIdentityCredentials",
            "properties": {"issuer": c.issuer, "subject": c.subject, "audiences": [c.audience]}}
