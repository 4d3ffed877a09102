# SPDX-License-Identifier: Apache-2.0
"""The emulated cloud's ARM view, shared by the IMDS and ARM emulators.

ARM answers what the control plane holds (`identity` blocks, provisioning states); each node's IMDS serves tokens
for what the data plane holds (the identities effective on its VMSS or VM). They differ while a long-running
update is in flight, which is exactly the window a controller has to wait out, so both are kept.

Resource ids are case-insensitive in ARM and kept in the case they were first written (reference
azure-wire-formats.md §5.3): every dictionary here is keyed by the lower-cased id and stores the original.
All methods are thread-safe; emulators call them from their request threads.
"""
from __future__ import annotations

import fnmatch
import threading
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Optional

# What each built-in role allows, as ARM action patterns (the subset podid's flows touch).
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),
    "Reader": ("*/read",),
    "Virtual Machine Contributor": ("Microsoft.Compute/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
                                    "Microsoft.Resources/subscriptions/read"),
    "Managed Identity Operator": ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                                  "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                                  "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
                                  "Microsoft.ManagedIdentity/userAssignedIdentities/read",
                                  "Microsoft.Resources/subscriptions/resourceGroups/read"),
}

# What each role withholds from its actions (notActions subtract within their own role only, as in ARM).
ROLE_NOT_ACTIONS: dict[str, tuple[str, ...]] = {
    "Contributor": ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                    "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
                    "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action"),
}

VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VM_TYPE = "Microsoft.Compute/virtualMachines"
UAMI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


def key(resource_id: str) -> str:
    """The comparison form of an ARM id: case-insensitive, no trailing slash."""
    return resource_id.rstrip("/").lower()


def _matches_any(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def resource_id(sub: str, rg: str, rtype: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{rtype}/{name}"


def _base36(n: int, width: int = 6) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n or not out:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(width, "0")


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass
class Identity:
    """A user-assigned managed identity. `resource_id` keeps the case it was created with."""
    name: str
    resource_group: str
    subscription_id: str
    client_id: str
    principal_id: str
    tenant_id: str
    resource_id: str
    location: str = "eastus"
    deleted: bool = False


@dataclass
class Instance:
    """One VMSS instance (or the standalone VM itself): what a node's IMDS knows about where it runs."""
    instance_id: str
    name: str               # computer name, as in the node's providerID / IMDS compute.name
    vm_id: str = field(default_factory=new_guid)


@dataclass
class Compute:
    """A uniform VMSS or a standalone VM with its identity block.

    `user_assigned` is the control-plane set (what ARM GET shows); `effective` is the data-plane set (what IMDS
    serves), which catches up when the long-running update completes.
    """
    kind: str                                  # VMSS_TYPE or VM_TYPE
    subscription_id: str
    resource_group: str
    name: str
    location: str
    resource_id: str
    instances: list[Instance]
    system_principal_id: Optional[str] = None  # None = system-assigned identity disabled
    system_client_id: str = field(default_factory=new_guid)
    user_assigned: dict[str, str] = field(default_factory=dict)   # key(id) -> id as stored
    effective: dict[str, str] = field(default_factory=dict)
    effective_system: bool = False
    provisioning_state: str = "Succeeded"
    upgrade_mode: str = "Manual"
    orchestration_mode: str = "Uniform"        # VMSS: "Uniform", or "Flexible" (its members are VMs)
    scale_set: Optional[str] = None            # VM: the Flexible scale set it is a member of

    @property
    def identity_type(self) -> str:
        kinds = (["SystemAssigned"] if self.system_principal_id else []) + (["UserAssigned"] if self.user_assigned
                                                                              else [])
        return ", ".join(kinds) or "None"


@dataclass
class RoleAssignment:
    principal_id: str
    role: str
    scope: str
    id: str = field(default_factory=new_guid)


class NotFound(Exception):
    """A name that ARM state does not hold (the emulators map it to their own 404 bodies)."""


class AzureState:
    """Subscriptions, resource groups, VMSS/VMs, user-assigned identities and role assignments of one tenant."""

    def __init__(self, tenant_id: Optional[str] = None, subscription_id: Optional[str] = None,
                 location: str = "eastus") -> None:
        self.lock = threading.RLock()
        self.tenant_id = tenant_id or new_guid()
        self.location = location
        self.subscriptions: dict[str, str] = {}          # key(sub) -> display name
        self.resource_groups: dict[str, str] = {}        # key(rg id) -> rg id as stored
        self.computes: dict[str, Compute] = {}           # key(id) -> Compute
        self.identities: dict[str, Identity] = {}        # key(id) -> Identity (deleted ones kept, flagged)
        self.roles: list[RoleAssignment] = []
        self.default_subscription = subscription_id or new_guid()
        self.add_subscription(self.default_subscription)

    # ---- topology -------------------------------------------------------------------------------------------
    def add_subscription(self, sub: str, display_name: str = "podid-test") -> str:
        with self.lock:
            self.subscriptions[sub.lower()] = display_name
        return sub

    def add_resource_group(self, rg: str, sub: Optional[str] = None) -> str:
        sub = sub or self.default_subscription
        rid = rg_id(sub, rg)
        with self.lock:
            self.resource_groups.setdefault(key(rid), rid)
        return rid

    def _add_compute(self, kind: str, rg: str, name: str, instances: list[Instance], sub: Optional[str],
                     system_assigned: bool) -> Compute:
        sub = sub or self.default_subscription
        self.add_resource_group(rg, sub)
        rid = resource_id(sub, rg, kind, name)
        c = Compute(kind=kind, subscription_id=sub, resource_group=rg, name=name, location=self.location,
                    resource_id=rid, instances=instances,
                    system_principal_id=new_guid() if system_assigned else None, effective_system=system_assigned)
        with self.lock:
            self.computes[key(rid)] = c
        return c

    def add_vmss(self, rg: str, name: str, instances: Iterable[str] = ("0",), sub: Optional[str] = None,
                 system_assigned: bool = False) -> Compute:
        """Instances are given by instance id; computer names follow AKS (`<name>` + 6-digit base-36 index)."""
        insts = [Instance(str(i), name + _base36(int(i)) if str(i).isdigit() else str(i)) for i in instances]
        return self._add_compute(VMSS_TYPE, rg, name, insts, sub, system_assigned)

    def add_vm(self, rg: str, name: str, sub: Optional[str] = None, system_assigned: bool = False,
               computer_name: Optional[str] = None, scale_set: Optional[str] = None) -> Compute:
        vm = self._add_compute(VM_TYPE, rg, name, [Instance("", computer_name or name)], sub, system_assigned)
        vm.scale_set = scale_set
        return vm

    def add_flex_vmss(self, rg: str, name: str, instances: int = 1, sub: Optional[str] = None) -> tuple[Compute,
                                                                                                     list[Compute]]:
        """A VMSS in Flexible orchestration and its members, which are VMs of their own (as Azure models them):
        `<name>_<8 hex>` with computer names `<name>` + 6-digit base-36 index. Identities are assigned per VM."""
        vmss = self._add_compute(VMSS_TYPE, rg, name, [], sub, False)
        vmss.orchestration_mode = "Flexible"
        vms = [self.add_vm(rg, f"{name}_{uuid.uuid4().hex[:8]}", sub, computer_name=name + _base36(i),
                           scale_set=vmss.resource_id) for i in range(instances)]
        return vmss, vms

    def compute(self, resource_id_or_name: str) -> Compute:
        """By full id, or by bare name when it is unique."""
        with self.lock:
            c = self.computes.get(key(resource_id_or_name))
            if c is None:
                matches = [c for c in self.computes.values() if c.name.lower() == resource_id_or_name.lower()]
                c = matches[0] if len(matches) == 1 else None
            if c is None:
                raise NotFound(resource_id_or_name)
            return c

    def find_compute(self, sub: str, rg: str, kind: str, name: str) -> Optional[Compute]:
        with self.lock:
            return self.computes.get(key(resource_id(sub, rg, kind, name)))

    def set_provisioning_state(self, resource_id_or_name: str, state: str) -> None:
        with self.lock:
            self.compute(resource_id_or_name).provisioning_state = state

    # ---- identities ----------------------------------------------------------------------------------------
    def add_identity(self, rg: str, name: str, sub: Optional[str] = None) -> Identity:
        sub = sub or self.default_subscription
        self.add_resource_group(rg, sub)
        rid = resource_id(sub, rg, UAMI_TYPE, name)
        ident = Identity(name=name, resource_group=rg, subscription_id=sub, client_id=new_guid(),
                         principal_id=new_guid(), tenant_id=self.tenant_id, resource_id=rid, location=self.location)
        with self.lock:
            self.identities[key(rid)] = ident
        return ident

    def identity(self, resource_id: str, include_deleted: bool = False) -> Optional[Identity]:
        with self.lock:
            ident = self.identities.get(key(resource_id))
            return ident if ident is not None and (include_deleted or not ident.deleted) else None

    def identity_by(self, *, client_id: str = "", principal_id: str = "") -> Optional[Identity]:
        with self.lock:
            for ident in self.identities.values():
                if not ident.deleted and ((client_id and ident.client_id.lower() == client_id.lower()) or
                                          (principal_id and ident.principal_id.lower() == principal_id.lower())):
                    return ident
        return None

    def delete_identity(self, resource_id: str) -> None:
        """Delete in Azure: references on VMSS/VMs stay (dangling), as they do in Azure; tokens stop."""
        with self.lock:
            ident = self.identities.get(key(resource_id))
            if ident is None:
                raise NotFound(resource_id)
            ident.deleted = True

    # ---- assignment, as an operator would do it out of band (no ARM call, no LRO) ------------------------------
    def assign_identity(self, compute_id_or_name: str, *identity_ids: str) -> None:
        self._set_user_assigned(compute_id_or_name, identity_ids, add=True)

    def unassign_identity(self, compute_id_or_name: str, *identity_ids: str) -> None:
        self._set_user_assigned(compute_id_or_name, identity_ids, add=False)

    def _set_user_assigned(self, compute_id_or_name: str, identity_ids: Iterable[str], *, add: bool) -> None:
        """Control and data plane at once: an out-of-band change has no long-running operation to wait for."""
        with self.lock:
            c = self.compute(compute_id_or_name)
            for rid in identity_ids:
                if add:
                    c.user_assigned.setdefault(key(rid), rid)
                else:
                    c.user_assigned.pop(key(rid), None)
            c.effective = dict(c.user_assigned)

    def set_system_assigned(self, compute_id_or_name: str, enabled: bool) -> None:
        with self.lock:
            c = self.compute(compute_id_or_name)
            if enabled and not c.system_principal_id:
                c.system_principal_id = new_guid()
            elif not enabled:
                c.system_principal_id = None
            c.effective_system = enabled

    def assigned_ids(self, compute_id_or_name: str) -> set[str]:
        """Lower-cased ids of the control-plane set (what ARM GET shows)."""
        with self.lock:
            return set(self.compute(compute_id_or_name).user_assigned)

    # ---- RBAC ------------------------------------------------------------------------------------------------
    def assign_role(self, principal_id: str, role: str, scope: str) -> RoleAssignment:
        if role not in ROLE_ACTIONS:
            raise ValueError(f"unknown role {role!r}; known: {sorted(ROLE_ACTIONS)}")
        ra = RoleAssignment(principal_id, role, scope)
        with self.lock:
            self.roles.append(ra)
        return ra

    def remove_role(self, principal_id: str, role: str, scope: str) -> None:
        with self.lock:
            self.roles = [r for r in self.roles if not (r.principal_id.lower() == principal_id.lower()
                                                        and r.role == role and key(r.scope) == key(scope))]

    def allowed(self, principal_id: str, action: str, scope: str) -> bool:
        """Does any assignment at `scope` or above grant `action`? (Inheritance is by id prefix, per segment.)"""
        target = key(scope) + "/"
        with self.lock:
            for r in self.roles:
                if r.principal_id.lower() != principal_id.lower() or not target.startswith(key(r.scope) + "/"):
                    continue
                if _matches_any(action, ROLE_ACTIONS[r.role]) and \
                        not _matches_any(action, ROLE_NOT_ACTIONS.get(r.role, ())):
                    return True
        return False

    def permissions(self, principal_id: str, scope: str) -> list[dict]:
        """What ARM's permissions API lists for the principal at `scope`: one entry per role assignment in force
        there (at the scope or above), the role's actions and notActions. Built from the same assignments
        `allowed` reads, so the two never disagree."""
        target = key(scope) + "/"
        with self.lock:
            return [{"actions": list(ROLE_ACTIONS[r.role]), "notActions": list(ROLE_NOT_ACTIONS.get(r.role, ())),
                     "dataActions": [], "notDataActions": []}
                    for r in self.roles
                    if r.principal_id.lower() == principal_id.lower() and target.startswith(key(r.scope) + "/")]

    def visible_subscriptions(self, principal_id: str) -> list[str]:
        """Subscriptions where the principal holds any role, at or below the subscription (ARM's list rule)."""
        with self.lock:
            out = []
            for sub in self.subscriptions:
                prefix = f"/subscriptions/{sub}"
                if any(r.principal_id.lower() == principal_id.lower() and
                       (key(r.scope) == prefix or key(r.scope).startswith(prefix + "/")) for r in self.roles):
                    out.append(sub)
            return out

    # ---- nodes: which IMDS serves what --------------------------------------------------------------------------
    def node(self, compute_id_or_name: str, instance: str = "") -> tuple[Compute, Instance]:
        """The (VMSS or VM, instance) an IMDS emulator stands for. `instance` is an instance id or computer name."""
        c = self.compute(compute_id_or_name)
        for inst in c.instances:
            if not instance or instance in (inst.instance_id, inst.name):
                return c, inst
        raise NotFound(f"{compute_id_or_name} instance {instance}")

    def node_identities(self, compute: Compute) -> list[Identity]:
        """User-assigned identities a node can get tokens for right now: effective on it and not deleted."""
        with self.lock:
            return [i for i in (self.identities.get(k) for k in compute.effective) if i is not None and not i.deleted]
