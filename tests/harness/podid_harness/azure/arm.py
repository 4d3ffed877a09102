# SPDX-License-Identifier: Apache-2.0
"""Emulator of Azure Resource Manager for what podid's controller and azure-cli touch: subscriptions, resource
groups, user-assigned identities and their federated credentials (listed from the Entra emulator's model), and the
identity block of VMSS and VMs (GET, PATCH, PUT, long-running update).

Every request is checked as ARM checks it, in ARM's order: bearer token (audience of reference §5.1), subscription
throttling budgets, api-version, RBAC on the caller's principal, then linked authorization of each identity being
added, then Compute's own validation (arm_identity.py). Counters by operation let tests assert how many calls a
controller made, which is the figure that decides whether it survives ARM's limits on a large cluster.
"""
from __future__ import annotations

import collections
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from ..httpbase import EmulatorServer, Request, Response
from .arm_auth import AuthN, Budgets, ResourceBudgets
from .arm_identity import (ASSIGN_ACTION, ArmError, check_identity_limits, plan_identity_update, render_compute,
                           render_federated_credential, render_identity, render_vmss_vm)
from .faults import FaultPlan, RequestLog, json_bytes
from .state import AzureState, Compute, UAMI_TYPE, VM_TYPE, VMSS_TYPE, key, rg_id
from .tokens import TokenIssuer

JSON = "application/json; charset=utf-8"
COMPUTE_SINCE = "2018-06-01"   # first version with the userAssignedIdentities dictionary (reference §5.2)
_API = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
_S, _RG = r"/subscriptions/(?P<sub>[^/]+)", r"/resourcegroups/(?P<rg>[^/]+)"
_ROUTES = [  # (method, regex, operation name); operation names are what counters and the log use
    ("GET", _S + r"(?P<under>(/[^/]+)*?)/providers/microsoft\.authorization/permissions", "GET permissions"),
    ("GET", r"/subscriptions", "GET subscriptions"),
    ("GET", _S, "GET subscription"),
    ("GET", _S + _RG, "GET resourcegroup"),
    ("GET", _S + _RG + r"/providers/microsoft\.compute/virtualmachinescalesets/(?P<name>[^/]+)/virtualmachines",
     "GET vmss vms"),
    ("*", _S + _RG + r"/providers/microsoft\.compute/virtualmachinescalesets/(?P<name>[^/]+)", "vmss"),
    ("*", _S + _RG + r"/providers/microsoft\.compute/virtualmachines/(?P<name>[^/]+)", "vm"),
    ("GET", _S + _RG + r"/providers/microsoft\.managedidentity/userassignedidentities/(?P<name>[^/]+)",
     "GET identity"),
    ("GET", _S + _RG + r"/providers/microsoft\.managedidentity/userassignedidentities/(?P<name>[^/]+)"
     r"/federatedidentitycredentials", "GET federated credentials"),
    ("GET", _S + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)",
     "GET operation"),
]


@dataclass
class Operation:
    """One long-running update: answers InProgress to `polls_left` polls (of its status URL or of the resource),
    then Succeeded."""
    id: str
    compute: Compute
    polls_left: int
    start: str
    status: str = "InProgress"
    end: str = ""
    error: Optional[dict] = None


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e7):07d}+00:00"


class ArmEmulator:
    """ARM over one AzureState.

    Updates are long-running: 200 + `Updating` + `Azure-AsyncOperation`, then `lro_polls` polls answer InProgress
    before one answers Succeeded (reference §5.4). `lro=False` makes them synchronous (200, Succeeded, no URL).
    """

    def __init__(self, cloud: AzureState, issuer: TokenIssuer, *, lro: bool = True, lro_polls: int = 1,
                 lro_retry_after_s: Optional[int] = 1, enforce_roles: bool = True, entra=None) -> None:
        """`entra`: the EntraEmulator whose apps hold the identities' federated credentials (one model: what
        Entra ID checks a token exchange against is what ARM lists); None lists none."""
        self.cloud, self.issuer = cloud, issuer
        self.entra = entra
        self.lro, self.lro_polls, self.lro_retry_after_s = lro, lro_polls, lro_retry_after_s
        self.enforce_roles = enforce_roles
        self.authn = AuthN(issuer)
        self.budgets = Budgets()
        self.resource_budgets = ResourceBudgets()
        self.faults = FaultPlan(lambda status: json_bytes(
            {"error": {"code": "InternalServerError" if status >= 500 else "InjectedFault",
                       "message": f"Injected HTTP {status}."}}))
        self.log = RequestLog()
        self.counters: collections.Counter[str] = collections.Counter()
        self.operations: dict[str, Operation] = {}
        # Every identity update accepted: (time.monotonic(), compute id, the request's identity block); and every
        # update completed: (time.monotonic(), compute id, the lower-cased ids then effective on its nodes).
        self.updates: list[tuple[float, str, dict]] = []
        self.completed: list[tuple[float, str, frozenset[str]]] = []
        self._lock = threading.Lock()
        self._scheme = "http"

    def serve(self, host: str = "127.0.0.1", port: int = 0, tls=None, netns=None) -> EmulatorServer:
        self._scheme = "https" if tls is not None else "http"
        return EmulatorServer(self, host=host, port=port, tls=tls, netns=netns)

    def limits(self, reads: Optional[int] = None, writes: Optional[int] = None, retry_after_s: int = 30) -> None:
        """Throttle after this many reads / writes per subscription; None = ARM's hourly figures."""
        self.budgets.configure(reads, writes, retry_after_s)

    def resource_limits(self, reads: Optional[int] = None, writes: Optional[int] = None,
                        retry_after_s: int = 5) -> None:
        """Throttle after this many reads / writes of each scale set or VM (Compute's per-resource policies);
        None = unlimited."""
        self.resource_budgets.configure(reads, writes, retry_after_s)

    # ---- dispatch --------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        op, m = self._match(req)
        entry = self.log.record(req, op)
        with self._lock:
            self.counters[op] += 1
        try:
            resp = self._handle(req, op, m)
        except ArmError as e:
            resp = Response(e.status, json_bytes(e.body()), [("Content-Type", JSON)] + e.headers)
        entry.status = 0 if resp.reset else resp.status
        if not resp.reset:
            resp.headers += [("x-ms-request-id", str(uuid.uuid4())),
                             ("x-ms-correlation-request-id", req.header("x-ms-correlation-request-id")
                              or str(uuid.uuid4())), ("x-ms-routing-request-id", "EASTUS:podid-emulator")]
        return resp

    def _match(self, req: Request) -> tuple[str, Optional[re.Match]]:
        path = req.path.rstrip("/") or "/"
        for method, rx, op in _ROUTES:
            m = re.fullmatch(rx, path, re.I)
            if m and method in ("*", req.method):
                return (f"{req.method} {op}" if method == "*" else op), m
        return f"{req.method} unknown", None

    def _handle(self, req: Request, op: str, m: Optional[re.Match]) -> Response:
        injected = self.faults.apply(req)
        if injected is not None:
            return injected
        claims = self.authn.check(req)
        write = req.method in ("PUT", "PATCH", "DELETE", "POST")
        sub = m.group("sub") if m is not None and "sub" in m.groupdict() else self.cloud.default_subscription
        remaining = (f"x-ms-ratelimit-remaining-subscription-{'writes' if write else 'reads'}",
                     str(self.budgets.spend(sub, claims.get("oid", ""), write)))
        try:
            resp = self._route(req, op, m, claims)
        except ArmError as e:
            e.headers.append(remaining)
            raise
        resp.headers.append(remaining)
        return resp

    def _route(self, req: Request, op: str, m: Optional[re.Match], claims: dict) -> Response:
        if m is None:
            raise ArmError(404 if req.method in ("GET", "PUT", "PATCH") else 405, "InvalidResourceType" if
                           req.method == "GET" else "MethodNotAllowed",
                           f"The resource type could not be found for '{req.path}'.")
        version = (req.query.get("api-version") or [""])[0]
        if not version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if not _API.fullmatch(version):
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{version}' is invalid. The supported versions are '2025-04-01'.")
        if op == "GET operation":
            return self._poll(m.group("op"))
        if op == "GET permissions":
            return self._permissions(req, m, claims)
        if op == "GET subscriptions":
            subs = self.cloud.visible_subscriptions(claims["oid"]) if self.enforce_roles else \
                list(self.cloud.subscriptions)
            return Response.json(200, {"value": [self._subscription(s) for s in subs]}, content_type=JSON)
        sub, g = m.group("sub"), m.groupdict()
        scope = req.path.rstrip("/")
        if op == "GET subscription":
            self._authorize(claims, "Microsoft.Resources/subscriptions/read", scope)
            if sub.lower() not in self.cloud.subscriptions:
                raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
            return Response.json(200, self._subscription(sub.lower()), content_type=JSON)
        self._authorize(claims, "Microsoft.Resources/subscriptions/resourceGroups/read" if op == "GET resourcegroup"
                        else self._action(op, req.method), scope)
        rgid = self.cloud.resource_groups.get(key(rg_id(sub, g["rg"])))
        if rgid is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{g['rg']}' could not be found.")
        if op == "GET resourcegroup":
            return Response.json(200, {"id": rgid, "name": rgid.rsplit("/", 1)[1], "type":
                                       "Microsoft.Resources/resourceGroups", "location": self.cloud.location,
                                       "properties": {"provisioningState": "Succeeded"}}, content_type=JSON)
        if op == "GET federated credentials":
            ident = self.cloud.identity(scope.rsplit("/", 1)[0])
            if ident is None:
                raise self._not_found(UAMI_TYPE, g["name"], g["rg"])
            app = self.entra.app(ident.client_id) if self.entra is not None else None
            creds = list(app.federated) if app is not None else []
            return Response.json(200, {"value": [render_federated_credential(ident, c) for c in creds]},
                                 content_type=JSON)
        if op == "GET identity":
            ident = self.cloud.identity(scope)
            if ident is None:
                raise self._not_found(UAMI_TYPE, g["name"], g["rg"])
            return Response.json(200, render_identity(ident), content_type=JSON)
        kind = VMSS_TYPE if "vmss" in op else VM_TYPE
        if version < COMPUTE_SINCE:   # older versions used `identityIds`, which this emulator does not speak
            raise ArmError(400, "NoRegisteredProviderFound", f"No registered resource provider found for location "
                           f"'{self.cloud.location}' and API version '{version}' for type "
                           f"'{kind.split('/')[1]}'. The supported api-versions are '{COMPUTE_SINCE}, 2019-12-01, "
                           "2024-07-01, 2024-11-01, 2025-04-01'.")
        c = self.cloud.find_compute(sub, g["rg"], kind, g["name"])
        if c is None:
            raise self._not_found(kind, g["name"], g["rg"])
        if op == "GET vmss vms":
            return Response.json(200, {"value": [render_vmss_vm(c, i) for i in range(len(c.instances))]},
                                 content_type=JSON)
        if req.method not in ("GET", "PATCH", "PUT"):
            raise ArmError(405, "MethodNotAllowed", f"The requested method '{req.method}' is not allowed.")
        write = req.method != "GET"
        word = "ScaleSet" if kind == VMSS_TYPE else ""
        policy = f"Microsoft.Compute/{'Update' if write else 'Get'}VM{word}3Min"
        budget = self.resource_budgets.spend(c.resource_id, policy, write)
        if req.method == "GET":
            self._progress(c)
            resp = Response.json(200, render_compute(self.cloud, c), content_type=JSON)
        else:
            resp = self._update(req, c, claims, scope, replace=req.method == "PUT")
        if budget is not None:
            resp.headers.append(budget)
        return resp

    # ---- authorization -------------------------------------------------------------------------------------
    @staticmethod
    def _action(op: str, method: str) -> str:
        if op == "GET vmss vms":
            return f"{VMSS_TYPE}/virtualMachines/read"
        if op == "GET federated credentials":
            return f"{UAMI_TYPE}/federatedIdentityCredentials/read"
        rtype = UAMI_TYPE if "identity" in op else (VMSS_TYPE if "vmss" in op else VM_TYPE)
        return f"{rtype}/{'read' if method == 'GET' else 'write'}"

    def _authorize(self, claims: dict, action: str, scope: str) -> None:
        if self.enforce_roles and not self.cloud.allowed(claims["oid"], action, scope):
            raise ArmError(403, "AuthorizationFailed",
                           f"The client '{claims.get('appid', '')}' with object id '{claims['oid']}' does not have "
                           f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
                           "invalid. If access was recently granted, please refresh your credentials.")

    def _authorize_linked(self, claims: dict, action: str, scope: str, linked: list[str]) -> None:
        denied = [rid for rid in linked if not self.cloud.allowed(claims["oid"], ASSIGN_ACTION, rid)]
        if self.enforce_roles and denied:
            raise ArmError(403, "LinkedAuthorizationFailed",
                           f"The client '{claims.get('appid', '')}' with object id '{claims['oid']}' has permission "
                           f"to perform action '{action}' on scope '{scope}'; however, it does not have permission "
                           f"to perform action '{ASSIGN_ACTION}' on the linked scope(s) '{','.join(denied)}' or the "
                           "linked scope(s) are invalid.")

    def _permissions(self, req: Request, m: re.Match, claims: dict) -> Response:
        """ARM's permissions API (Microsoft.Authorization/permissions, 2022-04-01): the caller's own role
        assignments in force at a subscription, resource group or resource, as actions and notActions. Any
        authenticated caller may list its own; an unknown subscription or resource group is a 404, a resource that
        does not exist in a known group is not looked up ([A])."""
        scope = req.path.rstrip("/")[:-len("/providers/Microsoft.Authorization/permissions")]
        sub = m.group("sub").lower()
        if sub not in self.cloud.subscriptions:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{m.group('sub')}' could not be found.")
        rg = re.match(r"/resourcegroups/([^/]+)", m.group("under") or "", re.I)
        if rg and key(rg_id(sub, rg.group(1))) not in self.cloud.resource_groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg.group(1)}' could not be found.")
        return Response.json(200, {"value": self.cloud.permissions(claims["oid"], scope)}, content_type=JSON)

    # ---- updates and long-running operations ----------------------------------------------------------------
    def _update(self, req: Request, c: Compute, claims: dict, scope: str, *, replace: bool) -> Response:
        try:
            body = req.json()
        except ValueError:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized.") from None
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized.")
        what = "Virtual Machine Scale Set" if c.kind == VMSS_TYPE else "Virtual Machine"
        with self.cloud.lock:
            if c.provisioning_state.lower() == "deleting":
                raise ArmError(409, "OperationNotAllowed", f"Operation 'Update {what}' is not allowed on {what} "
                               f"'{c.name}' since it is marked for deletion. For more information on your "
                               "operation, please refer to https://aka.ms/DeleteVMScaleSetOperationNotAllowed.")
            block = body.get("identity")
            if block is not None:
                plan = plan_identity_update(self.cloud, c, block, replace=replace)
                self._authorize_linked(claims, f"{c.kind}/write", scope, plan.linked)
                check_identity_limits(self.cloud, c, block, plan, replace=replace)
                self.updates.append((time.monotonic(), c.resource_id, block))
                if plan.system and not c.system_principal_id:
                    c.system_principal_id = str(uuid.uuid4())
                elif not plan.system:
                    c.system_principal_id = None
                c.user_assigned = plan.user
            return self._start_operation(req, c)

    def _start_operation(self, req: Request, c: Compute) -> Response:
        for old in self.operations.values():
            if old.compute is c and old.status == "InProgress":
                old.status, old.end = "Failed", _now_iso()
                old.error = {"code": "OperationPreempted",
                             "message": "Operation execution has been preempted by a more recent operation."}
        if not self.lro:
            self._complete(c)
            return Response.json(200, render_compute(self.cloud, c), content_type=JSON)
        op = Operation(str(uuid.uuid4()), c, self.lro_polls, _now_iso())
        self.operations[op.id] = op
        c.provisioning_state = "Updating"
        host = req.header("host") or "127.0.0.1"
        version = (req.query.get("api-version") or ["2019-12-01"])[0]
        url = (f"{self._scheme}://{host}/subscriptions/{c.subscription_id}/providers/Microsoft.Compute/locations/"
               f"{c.location}/operations/{op.id}?p={uuid.uuid4()}&api-version={version}")
        headers = [("Azure-AsyncOperation", url)]
        if self.lro_retry_after_s is not None:
            headers.append(("Retry-After", str(self.lro_retry_after_s)))
        return Response.json(200, render_compute(self.cloud, c), headers=headers, content_type=JSON)

    def _complete(self, c: Compute) -> None:
        c.effective = dict(c.user_assigned)
        c.effective_system = bool(c.system_principal_id)
        c.provisioning_state = "Succeeded"
        self.completed.append((time.monotonic(), c.resource_id, frozenset(c.effective)))

    def _tick(self, op: Operation) -> None:
        if op.status != "InProgress":
            return
        if op.polls_left > 0:
            op.polls_left -= 1
        else:
            op.status, op.end = "Succeeded", _now_iso()
            if not any(o.compute is op.compute and o.status == "InProgress" for o in self.operations.values()):
                self._complete(op.compute)

    def _progress(self, c: Compute) -> None:
        """A GET of the resource is also a poll: go-autorest polls the resource when it has no status URL."""
        with self.cloud.lock:
            for op in list(self.operations.values()):
                if op.compute is c:
                    self._tick(op)

    def _poll(self, op_id: str) -> Response:
        with self.cloud.lock:
            op = self.operations.get(op_id)
            if op is None:
                raise ArmError(404, "NotFound", f"The operation '{op_id}' could not be found.")
            self._tick(op)
            body = {"startTime": op.start, "status": op.status, "name": op.id}
            if op.end:
                body["endTime"] = op.end
            if op.error:
                body["error"] = op.error
        headers = [("Retry-After", str(self.lro_retry_after_s))] if (
            op.status == "InProgress" and self.lro_retry_after_s is not None) else []
        return Response.json(200, body, headers=headers, content_type=JSON)

    # ---- bodies -----------------------------------------------------------------------------------------------
    def _subscription(self, sub: str) -> dict:
        return {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": self.cloud.tenant_id,
                "displayName": self.cloud.subscriptions.get(sub, ""), "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Internal_2014-09-01",
                                         "spendingLimit": "Off"}, "authorizationSource": "RoleBased"}

    @staticmethod
    def _not_found(rtype: str, name: str, rg: str) -> ArmError:
        return ArmError(404, "ResourceNotFound", f"The Resource '{rtype}/{name}' under resource group '{rg}' was "
                        "not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
