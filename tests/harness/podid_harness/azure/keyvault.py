# SPDX-License-Identifier: Apache-2.0
"""Key Vault emulator: the secrets data plane that pods read with their podid identity.

What SDKs see: the bearer challenge round trip (a 401 with `WWW-Authenticate: Bearer authorization=..., resource=...`
on a request without a token, from which @azure/keyvault-secrets and azure-keyvault-secrets learn the tenant and
scope), token checks against the shared TokenIssuer (aud `https://vault.azure.net`), access policies keyed by the
token's `oid`, and Key Vault's JSON: secret bundles, version lists, 403 "does not have secrets get permission",
404 SecretNotFound. Texts marked [A] in README-entra-keyvault.md are best knowledge, not captures.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

import jwt

from ..httpbase import EmulatorServer, Request, Response, Router
from .faulted import answer
from .faults import FaultPlan, RequestLog, json_bytes
from .tokens import InvalidToken, TokenIssuer

__all__ = ["KeyVaultEmulator", "SecretVersion"]

VAULT_AUDIENCE = "https://vault.azure.net"
_NAME = r"(?P<name>[0-9A-Za-z-]{1,127})"


@dataclass
class SecretVersion:
    version: str
    value: str
    created: int
    enabled: bool = True
    content_type: Optional[str] = None
    tags: Optional[dict[str, str]] = None
    not_before: Optional[int] = None
    expires: Optional[int] = None
    updated: int = field(default=0)

    def attributes(self) -> dict:
        attrs = {"enabled": self.enabled, "created": self.created, "updated": self.updated or self.created,
                 "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}
        if self.not_before is not None:
            attrs["nbf"] = self.not_before
        if self.expires is not None:
            attrs["exp"] = self.expires
        return attrs

    def item(self, base: str, name: str, with_value: bool) -> dict:
        out: dict = {"value": self.value} if with_value else {}
        out["id"] = f"{base}/secrets/{name}/{self.version}"
        out["attributes"] = self.attributes()
        if self.content_type is not None:
            out["contentType"] = self.content_type
        if self.tags is not None:
            out["tags"] = dict(self.tags)
        return out


@dataclass
class _AuthedRequest(Request):
    """A request whose bearer token passed verification, with the token's claims."""
    claims: dict = field(default_factory=dict)


def _kv_error(status: int, code: str, message: str, inner: Optional[str] = None,
              headers: Optional[list[tuple[str, str]]] = None) -> Response:
    body: dict = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"code": inner}
    return Response.json(status, body, headers=headers)


def _fault_body(status: int) -> bytes:
    code = {429: "Throttled", 503: "ServiceUnavailable"}.get(status, "InternalServerError")
    return json_bytes({"error": {"code": code, "message": "Injected fault."}})


class KeyVaultEmulator:
    def __init__(self, issuer: TokenIssuer, name: str = "podid-test", *, location: str = "eastus",
                 authority: str = "https://login.microsoftonline.com") -> None:
        self.issuer, self.name, self.location = issuer, name, location
        # Base of the challenge's `authorization` URL; SDKs take only the tenant id from it, but tests point it
        # at the Entra emulator so that nothing in the answer names a real host.
        self.authority = authority
        self._secrets: dict[str, list[SecretVersion]] = {}   # lower-cased name -> versions, oldest first
        self._names: dict[str, str] = {}                     # lower-cased name -> name as first set
        self._policies: dict[str, set[str]] = {}             # oid (lower) -> secret permissions
        self._lock = threading.Lock()
        self.faults = FaultPlan(_fault_body)
        self.log = RequestLog()
        r = self._router = Router()
        r.add("GET", r"/secrets/?", lambda q, m: self._list(q))
        r.add("GET", rf"/secrets/{_NAME}/versions", lambda q, m: self._versions(q, m["name"]))
        r.add("GET", rf"/secrets/{_NAME}(?:/(?P<version>[0-9A-Za-z]*))?", lambda q, m: self._get(q, m))
        r.add("PUT", rf"/secrets/{_NAME}", lambda q, m: self._put(q, m["name"]))

    # -- test API ------------------------------------------------------------------------------------------
    def set_secret(self, name: str, value: str, *, content_type: Optional[str] = None,
                   tags: Optional[dict[str, str]] = None, enabled: bool = True,
                   not_before: Optional[int] = None, expires: Optional[int] = None) -> SecretVersion:
        """Add a new version (it becomes the current one) and return it."""
        ver = SecretVersion(uuid.uuid4().hex, value, int(time.time()), enabled, content_type, tags, not_before,
                            expires)
        with self._lock:
            self._secrets.setdefault(name.lower(), []).append(ver)
            self._names.setdefault(name.lower(), name)
        return ver

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.pop(name.lower(), None)
            self._names.pop(name.lower(), None)

    def allow(self, oid: str, permissions: Iterable[str] = ("get",)) -> None:
        """Grant secret permissions (get, list, set) to a principal object id, as an access policy does."""
        with self._lock:
            self._policies.setdefault(oid.lower(), set()).update(p.lower() for p in permissions)

    def revoke(self, oid: str) -> None:
        with self._lock:
            self._policies.pop(oid.lower(), None)

    def serve(self, tls=None, host: str = "127.0.0.1", port: int = 0, netns=None) -> EmulatorServer:
        return EmulatorServer(self, host=host, port=port, tls=tls, netns=netns)

    # -- request pipeline ----------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        return answer(self.faults, self.log, req, self._serve)

    def _serve(self, req: Request) -> Response:
        authed = self._authenticate(req)
        if isinstance(authed, Response):
            resp = authed
        else:
            resp = self._router.dispatch(authed) or _kv_error(404, "NotFound", f"The path {req.path} was not found.")
        resp.headers = list(resp.headers) + self._common_headers(req)
        return resp

    def _common_headers(self, req: Request) -> list[tuple[str, str]]:
        return [("Cache-Control", "no-cache"), ("Pragma", "no-cache"), ("Expires", "-1"),
                ("x-ms-keyvault-region", self.location), ("x-ms-request-id", str(uuid.uuid4())),
                ("x-ms-keyvault-service-version", "1.9.0.0"), ("X-Content-Type-Options", "nosniff"),
                ("x-ms-keyvault-network-info", f"conn_type=Ipv4;addr={req.client[0]};act_addr_fam=InterNetwork;"),
                ("Strict-Transport-Security", "max-age=31536000;includeSubDomains")]

    def _challenge(self) -> list[tuple[str, str]]:
        value = (f'Bearer authorization="{self.authority.rstrip("/")}/{self.issuer.tenant_id}", '
                 f'resource="{VAULT_AUDIENCE}"')
        return [("WWW-Authenticate", value)]

    def _authenticate(self, req: Request) -> Union[_AuthedRequest, Response]:
        """The request with its token's claims when the bearer token is good, else the 401 answer."""
        auth = req.header("authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return _kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                             headers=self._challenge())
        token = auth[7:].strip()
        try:
            claims = self.issuer.verify(token, audience=VAULT_AUDIENCE)
            return _AuthedRequest(**vars(req), claims=claims)
        except InvalidToken as e:
            return _kv_error(401, "Unauthorized", self._invalid_token_message(e.reason, token),
                             headers=self._challenge())

    def _invalid_token_message(self, reason: str, token: str) -> str:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return "AKV10000: Request is missing a Bearer or PoP token."
        # A token from another tenant fails on its signature first in PyJWT; Key Vault names the issuer.
        if reason == "issuer" or claims.get("iss") != self.issuer.issuer:
            return f"AKV10032: Invalid issuer. Expected one of {self.issuer.issuer}, found: {claims.get('iss')}."
        if reason == "audience":
            return f"AKV10022: Invalid audience. Expected {VAULT_AUDIENCE}, found: {claims.get('aud')}."
        if reason == "expired":
            return "AKV10017: Token expired."
        return "AKV10007: Token signature is invalid."

    def _denied(self, req: _AuthedRequest, op: str) -> Optional[Response]:
        claims = req.claims
        oid = str(claims.get("oid", ""))
        with self._lock:
            granted = op in self._policies.get(oid.lower(), set())
        if granted:
            return None
        who = f"appid={claims.get('appid', '')};oid={oid};iss={claims.get('iss', '')}"
        return _kv_error(403, "Forbidden",
                         f"The user, group or application '{who}' does not have secrets {op} permission on key "
                         f"vault '{self.name};location={self.location}'. For help resolving this issue, please "
                         "see https://go.microsoft.com/fwlink/?linkid=2125287", inner="AccessDenied")

    @staticmethod
    def _base(req: Request) -> str:
        return f"https://{req.header('host', '127.0.0.1')}"

    @staticmethod
    def _api_version_missing(req: Request) -> Optional[Response]:
        if req.query.get("api-version", [""])[0]:
            return None
        return _kv_error(400, "BadParameter", "The 'api-version' query parameter is missing.")

    # -- operations ----------------------------------------------------------------------------------------
    def _get(self, req: Request, m) -> Response:
        bad = self._api_version_missing(req) or self._denied(req, "get")
        if bad:
            return bad
        name, version = m["name"], m["version"] or ""
        with self._lock:
            versions = list(self._secrets.get(name.lower(), []))
            shown = self._names.get(name.lower(), name)
        found = next((v for v in versions if v.version == version.lower()), None) if version else \
            (versions[-1] if versions else None)
        if found is None:
            ident = f"{name}/{version}" if version else name
            return _kv_error(404, "SecretNotFound",
                             f"A secret with (name/id) {ident} was not found in this key vault. If you recently "
                             "deleted this secret you may be able to recover it using the correct recovery "
                             "command. For help resolving this issue, please see "
                             "https://go.microsoft.com/fwlink/?linkid=2125182")
        if not found.enabled:
            return _kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                             inner="SecretDisabled")
        return Response.json(200, found.item(self._base(req), shown, with_value=True))

    def _versions(self, req: Request, name: str) -> Response:
        bad = self._api_version_missing(req) or self._denied(req, "list")
        if bad:
            return bad
        with self._lock:
            versions = list(self._secrets.get(name.lower(), []))
            shown = self._names.get(name.lower(), name)
        base = self._base(req)
        return Response.json(200, {"value": [v.item(base, shown, with_value=False) for v in versions],
                                   "nextLink": None})

    def _list(self, req: Request) -> Response:
        bad = self._api_version_missing(req) or self._denied(req, "list")
        if bad:
            return bad
        base = self._base(req)
        with self._lock:
            current = [(self._names[k], v[-1]) for k, v in self._secrets.items() if v]
        items = []
        for name, ver in current:
            item = ver.item(base, name, with_value=False)
            item["id"] = f"{base}/secrets/{name}"
            items.append(item)
        return Response.json(200, {"value": items, "nextLink": None})

    def _put(self, req: Request, name: str) -> Response:
        bad = self._api_version_missing(req) or self._denied(req, "set")
        if bad:
            return bad
        try:
            body = req.json()
            value = body["value"]
        except (ValueError, KeyError, TypeError):
            return _kv_error(400, "BadParameter", "Property 'value' is required.")
        attrs = body.get("attributes") or {}
        ver = self.set_secret(name, str(value), content_type=body.get("contentType"), tags=body.get("tags"),
                              enabled=attrs.get("enabled", True), not_before=attrs.get("nbf"),
                              expires=attrs.get("exp"))
        with self._lock:
            shown = self._names.get(name.lower(), name)
        return Response.json(200, ver.item(self._base(req), shown, with_value=True))
