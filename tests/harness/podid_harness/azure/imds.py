# SPDX-License-Identifier: Apache-2.0
"""Emulator of one node's Azure Instance Metadata Service (IMDS).

One instance stands for one VMSS instance or standalone VM. It serves a managed-identity token only for an
identity that the shared ARM state says is effective on that node *at the moment of the request*, so a controller
that has not yet assigned an identity makes the token request fail exactly as on Azure ("Identity not found").

Wire format: reference/azure-wire-formats.md §1 (token endpoint, error bodies byte for byte), §2 (other
endpoints), §7 (checklist). Bodies marked [A] in the reference are this emulator's choice where Azure's is not
documented; README.md lists them.
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Optional

from ..httpbase import EmulatorServer, Request, Response
from .faults import FaultPlan, RequestLog, json_bytes
from .imds_metadata import instance_document, scheduled_events_route, walk_document
from .state import AzureState, Compute, Identity, Instance
from .tokens import TokenIssuer

JSON = "application/json; charset=utf-8"

# Known IMDS api-versions (reference §1.1), oldest first as /metadata/versions lists them.
API_VERSIONS = tuple(reversed((
    "2025-04-07", "2024-07-17", "2024-03-15", "2023-11-15", "2023-07-01", "2021-12-13", "2021-11-15", "2021-11-01",
    "2021-10-01", "2021-08-01", "2021-05-01", "2021-03-01", "2021-02-01", "2021-01-01", "2020-12-01", "2020-10-01",
    "2020-09-01", "2020-07-15", "2020-06-01", "2019-11-01", "2019-08-15", "2019-08-01", "2019-06-04", "2019-06-01",
    "2019-04-30", "2019-03-11", "2019-02-01", "2018-10-01", "2018-04-02", "2018-02-01", "2017-12-01", "2017-10-01",
    "2017-08-01", "2017-04-02", "2017-03-01")))
# Scheduled events has versions of its own (reference §2: "2017-08-01 (use 2020-07-01)").
EVENTS_VERSIONS = ("2017-08-01", "2017-11-01", "2019-01-01", "2019-04-01", "2019-08-01", "2020-07-01")
IDENTITY_SINCE = "2018-02-01"   # identity category introduced in this version
INSTANCE_SINCE = "2017-04-02"

# Exact bodies from the reference (§1.3). The missing-header one is 88 bytes, the identity one 68.
MISSING_HEADER = json_bytes({"error": "invalid_request",
                             "error_description": "Required metadata header not specified"})
IDENTITY_NOT_FOUND = json_bytes({"error": "invalid_request", "error_description": "Identity not found"})
MULTIPLE_IDENTITIES = json_bytes({
    "error": "invalid_request",
    "error_description": "Multiple user assigned identities exist, please specify the clientId / resourceId of "
                         "the identity in the token request"})
BAD_API_VERSION = json_bytes({
    "error": "Bad request. api-version is invalid or was not specified in the request. For more information "
             "refer to aka.ms/azureimds", "newest-versions": list(reversed(API_VERSIONS[-3:]))})
# [A] bodies: Azure's are undocumented (reference §1.3).
MISSING_RESOURCE = json_bytes({"error": "invalid_request",
                               "error_description": "Required query variable 'resource' is missing"})
TOO_MANY_SELECTORS = json_bytes({"error": "invalid_request", "error_description":
                                 "Only one of client_id, object_id, msi_res_id may be specified"})
DUPLICATE_QUERY = json_bytes({"error": "invalid_request", "error_description": "Duplicate query parameter"})
RATE_LIMITED = json_bytes({"error": "too_many_requests", "error_description":
                           "Too many requests in the Managed Identity category. Retry later."})
_FAULT_BODIES = {
    404: {"error": "not_found", "error_description": "IMDS endpoint is updating"},
    410: {"error": "not_found", "error_description": "IMDS is starting; it will be available within 70 seconds"},
    429: {"error": "too_many_requests", "error_description": "Too many requests"},
    500: {"error": "unknown", "error_description": "Failed to retrieve token from the Active directory. For "
                                                   "details see logs in C:\\WindowsAzure\\Logs\\Plugins"},
}

# A trailing slash is accepted: msal-node (@azure/identity 4.x) sends `/token/` when AZURE_POD_IDENTITY_AUTHORITY_HOST
# is set (its UrlString canonicalisation), and aad-pod-identity's NMI matched the path as a prefix, so pods relying
# on that override always worked.
TOKEN_PATH = re.compile(r"/(?i:metadata)/identity/oauth2/token/?")
_SELECTORS = ("client_id", "object_id", "msi_res_id", "mi_res_id")


def _fault_body(status: int) -> bytes:
    return json_bytes(_FAULT_BODIES.get(status, {"error": "server_error", "error_description": f"HTTP {status}"}))


class _RateLimiter:
    """Sliding one-second window plus a concurrency cap, per VM (reference §1.4)."""

    def __init__(self, per_second: int, concurrent: Optional[int]) -> None:
        self.per_second, self.concurrent = per_second, concurrent
        self._times: deque[float] = deque()
        self._inflight = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.per_second or (self.concurrent is not None and
                                                       self._inflight >= self.concurrent):
                return False
            self._times.append(now)
            self._inflight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inflight -= 1


class ImdsEmulator:
    """IMDS as seen from one node. `vm` is a VMSS or VM name/id in `cloud`; `instance` an instance id or name."""

    def __init__(self, cloud: AzureState, issuer: TokenIssuer, vm: str, instance: str = "", *,
                 rate_limit: bool = False, token_ttl_s: int = 86399, token_latency_s: float = 0.0,
                 resources: Optional[set[str]] = None) -> None:
        self.cloud, self.issuer = cloud, issuer
        self.compute, self.instance = cloud.node(vm, instance)
        self.token_ttl_s, self.token_latency_s = token_ttl_s, token_latency_s
        self.resources = resources          # None: any resource URI is a known service principal
        self.faults = FaultPlan(_fault_body)
        self.log = RequestLog()
        self.scheduled_events: list[dict] = []
        self.events_incarnation = 1
        self._identity_limit = _RateLimiter(20, 5) if rate_limit else None
        self._general_limit = _RateLimiter(5, None) if rate_limit else None

    def serve(self, host: str = "127.0.0.1", port: int = 0, tls=None, netns=None) -> EmulatorServer:
        return EmulatorServer(self, host=host, port=port, tls=tls, netns=netns)

    # ---- dispatch --------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        entry = self.log.record(req)
        resp = self._handle(req)
        entry.status = 0 if resp.reset else resp.status
        return resp

    def _handle(self, req: Request) -> Response:
        injected = self.faults.apply(req)
        if injected is not None:
            return injected
        is_token = bool(TOKEN_PATH.fullmatch(req.path))
        limiter = self._identity_limit if is_token else self._general_limit
        if limiter is not None and not limiter.enter():
            return Response(429, RATE_LIMITED, [("Content-Type", JSON), ("Retry-After", "1")])
        try:
            if is_token and self.token_latency_s:
                time.sleep(self.token_latency_s)
            return self._route(req, is_token)
        finally:
            if limiter is not None:
                limiter.leave()

    def _route(self, req: Request, is_token: bool) -> Response:
        path = req.path
        if is_token:
            return self._token(req)
        if re.fullmatch(r"/(?i:metadata)/versions", path):
            return Response.json(200, {"apiVersions": list(API_VERSIONS)}, content_type=JSON)
        m = re.fullmatch(r"/(?i:metadata)/(instance|identity/info|scheduledevents)(/.*)?", path)
        if not m:
            return Response(404, json_bytes({"error": "Not found"}), [("Content-Type", JSON)])
        events = m.group(1) == "scheduledevents"
        err = self._common_checks(req, INSTANCE_SINCE, methods=("GET", "POST") if events else ("GET",),
                                  versions=EVENTS_VERSIONS if events else API_VERSIONS)
        if err is not None:
            return err
        if m.group(1) == "instance":
            return walk_document(instance_document(self.cloud, self.compute, self.instance), m.group(2) or "",
                                 req.query)
        if m.group(1) == "identity/info":
            return Response.json(200, {"tenantId": self.cloud.tenant_id}, content_type=JSON)
        return scheduled_events_route(self, req)

    def _common_checks(self, req: Request, since: str, methods=("GET",),
                       versions: tuple[str, ...] = API_VERSIONS) -> Optional[Response]:
        """Order matters: the SDK probe (no query, no header) must get the missing-header body (§3.1)."""
        if req.method not in methods:
            return Response(405, json_bytes({"error": "method_not_allowed",
                                             "error_description": "The request method is not allowed"}),
                            [("Content-Type", JSON), ("Allow", ", ".join(methods))])
        if req.header("x-forwarded-for") is not None or req.header("metadata") != "true":
            return Response(400, MISSING_HEADER, [("Content-Type", JSON)])
        if any(len(v) > 1 for v in req.query.values()):
            return Response(400, DUPLICATE_QUERY, [("Content-Type", JSON)])
        version = (req.query.get("api-version") or [""])[0]
        if version not in versions or version < since:
            return Response(400, BAD_API_VERSION, [("Content-Type", JSON)])
        return None

    # ---- token -----------------------------------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        err = self._common_checks(req, IDENTITY_SINCE)
        if err is not None:
            return err
        q = {k: v[0] for k, v in req.query.items()}
        resource = q.get("resource", "")
        if not resource:
            return Response(400, MISSING_RESOURCE, [("Content-Type", JSON)])
        given = [(k, q[k]) for k in _SELECTORS if q.get(k)]
        if len(given) > 1:
            return Response(400, TOO_MANY_SELECTORS, [("Content-Type", JSON)])
        if self.resources is not None and resource.rstrip("/") not in {r.rstrip("/") for r in self.resources}:
            return Response(400, self._unknown_resource(resource), [("Content-Type", JSON)])
        chosen = self._choose(given[0] if given else None)
        if isinstance(chosen, bytes):
            return Response(400, chosen, [("Content-Type", JSON)])
        return self._mint(resource, *chosen)

    def _choose(self, selector: Optional[tuple[str, str]]):
        """(principal id, client id, xms_mirid) of the identity to use, or an error body."""
        with self.cloud.lock:
            c: Compute = self.compute
            uamis = self.cloud.node_identities(c)
            system = (c.system_principal_id, c.system_client_id, c.resource_id) \
                if c.effective_system and c.system_principal_id else None
        if selector is None:
            if system:
                return system
            if len(uamis) == 1:
                return self._uami(uamis[0])
            return MULTIPLE_IDENTITIES if uamis else IDENTITY_NOT_FOUND
        name, value = selector
        field_of = {"client_id": lambda i: i.client_id, "object_id": lambda i: i.principal_id,
                    "msi_res_id": lambda i: i.resource_id, "mi_res_id": lambda i: i.resource_id}[name]
        for ident in uamis:
            if field_of(ident).lower() == value.lower():
                return self._uami(ident)
        return IDENTITY_NOT_FOUND

    @staticmethod
    def _uami(i: Identity) -> tuple[str, str, str]:
        return i.principal_id, i.client_id, i.resource_id

    def _mint(self, resource: str, oid: str, client_id: str, mirid: str) -> Response:
        now = int(time.time())
        token, exp = self.issuer.issue(audience=resource, oid=oid, appid=client_id, ttl_s=self.token_ttl_s,
                                       now=now, extra={"xms_mirid": mirid, "idtyp": "app"})
        ttl = str(exp - now)
        body = {"access_token": token, "refresh_token": "", "expires_in": ttl, "expires_on": str(exp),
                "ext_expires_in": ttl, "not_before": str(now - 300), "resource": resource, "token_type": "Bearer",
                "client_id": client_id}
        return Response(200, json_bytes(body), [("Content-Type", JSON)])

    def _unknown_resource(self, resource: str) -> bytes:
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return json_bytes({"error": "invalid_resource", "error_description": (
            f"AADSTS500011: The resource principal named {resource} was not found in the tenant named "
            f"{self.cloud.tenant_id}. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You might have sent your "
            "authentication request to the wrong tenant.\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\n"
            f"Correlation ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: {stamp}")})


__all__ = ["ImdsEmulator", "Instance", "MISSING_HEADER", "IDENTITY_NOT_FOUND", "MULTIPLE_IDENTITIES"]
