# SPDX-License-Identifier: Apache-2.0
"""Entra ID emulator: the tenant's token endpoints for service principals and federated identities.

Serves what real SDKs call (reference/azure-wire-formats.md §4, §6): `POST /{tenant}/oauth2/token` (v1, what adal
and aad-pod-identity use) and `POST /{tenant}/oauth2/v2.0/token` (MSAL, azure-identity) with the
`client_credentials` grant and a client secret, a certificate-signed assertion or a federated token; the OpenID
metadata and MSAL instance discovery that a non-default authority host makes MSAL fetch; the tenant's JWKS.
Access tokens are signed by the shared TokenIssuer, so ARM and Key Vault emulators accept them.
"""
from __future__ import annotations

import hmac
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union
from urllib.parse import urlsplit

import jwt
from cryptography import x509

from ..httpbase import EmulatorServer, Request, Response, Router
from . import entra_errors as err
from .entra_assertions import (JWT_BEARER, FederatedCredential, OidcKeyFetcher, check_time, match_federated,
                               token_endpoint_audiences, unverified, verify_certificate_assertion)
from .faulted import answer
from .faults import FaultPlan, RequestLog
from .tokens import TokenIssuer

__all__ = ["App", "EntraEmulator", "FederatedCredential", "FederatedCredentialRefused", "TokenRequest",
           "MAX_FEDERATED_CREDENTIALS"]

_TENANT = r"/(?P<tenant>[^/]+)"
# Entra's limit per app registration or user-assigned identity (workload-identity-federation-considerations).
MAX_FEDERATED_CREDENTIALS = 20


class FederatedCredentialRefused(Exception):
    """ARM's (or Graph's) refusal to create a federated identity credential: `status`, `code`, `message` as the
    error envelope carries them (the texts are [A]: the limits are documented, the wording is not)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class _Secret:
    value: str
    expires_at: Optional[float] = None


@dataclass
class App:
    """An app registration with its service principal. `object_id` is the principal's object id: the `oid`
    claim, and what Key Vault access policies and role assignments name."""
    client_id: str
    object_id: str
    display_name: str = ""
    secrets: list[_Secret] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    federated: list[FederatedCredential] = field(default_factory=list)


@dataclass
class TokenRequest:
    """What one token request carried and how it ended, for tests that check what a client sent."""
    version: str                  # "v1" or "v2"
    form: dict[str, str]
    status: int
    credential: str = ""          # "secret", "certificate", "federated" once recognised
    error_code: Optional[int] = None   # the AADSTS number when refused


def _as_certificate(cert) -> x509.Certificate:
    """Accept a tlsca.ClientCert, an x509.Certificate or PEM bytes/str."""
    if isinstance(cert, x509.Certificate):
        return cert
    if hasattr(cert, "certificate"):
        return cert.certificate
    return x509.load_pem_x509_certificate(cert.encode() if isinstance(cert, str) else cert)


class EntraEmulator:
    """One tenant (the TokenIssuer's). Register apps, then `serve(tls=...)`; see README-entra-keyvault.md."""

    def __init__(self, issuer: TokenIssuer, *, token_ttl_s: int = 3599,
                 resources: Optional[Iterable[str]] = None, federated_errors: str = "split") -> None:
        """`federated_errors`: "split" answers a federated assertion no credential matches as Entra does today
        (700211 issuer, 700212 audience, 700213 subject); "legacy" with the single 70021 of older reports."""
        if federated_errors not in ("split", "legacy"):
            raise ValueError(f"federated_errors {federated_errors!r} is not split or legacy")
        self.federated_errors = federated_errors
        self.issuer = issuer
        self.tenant_id = issuer.tenant_id
        self.token_ttl_s = token_ttl_s
        # None accepts any resource; a set makes unknown ones fail with AADSTS500011.
        self.resources: Optional[set[str]] = set(resources) if resources is not None else None
        self.oidc = OidcKeyFetcher()
        self.faults = FaultPlan(_fault_body)
        self.log = RequestLog()
        self.token_log: list[TokenRequest] = []   # each token request's form and outcome
        self.scheme = "https"       # set by serve(); only used to build URLs in metadata documents
        self._apps: dict[str, App] = {}
        self._lock = threading.Lock()
        self._router = Router()
        r = self._router
        r.add("POST", _TENANT + r"/oauth2/token", lambda q, m: self._token(q, m["tenant"], v2=False))
        r.add("POST", _TENANT + r"/oauth2/v2\.0/token", lambda q, m: self._token(q, m["tenant"], v2=True))
        r.add("*", _TENANT + r"/oauth2(?:/v2\.0)?/token", lambda q, m: self._error(err.post_only(q.method), q))
        r.add("GET", _TENANT + r"/v2\.0/\.well-known/openid-configuration", lambda q, m: self._openid(q, m, True))
        r.add("GET", _TENANT + r"/\.well-known/openid-configuration", lambda q, m: self._openid(q, m, False))
        r.add("GET", r"/(?:common|organizations|[^/]+)/discovery/instance", lambda q, m: self._instance(q))
        r.add("GET", _TENANT + r"/discovery(?:/v2\.0)?/keys", lambda q, m: Response.json(200, self.issuer.jwks()))

    # -- registrations -------------------------------------------------------------------------------------
    def register_app(self, *, secret: Optional[str] = None, cert=None, client_id: Optional[str] = None,
                     object_id: Optional[str] = None, display_name: str = "",
                     secret_expires_at: Optional[float] = None) -> App:
        """Register an app (or a user-assigned identity, by giving its client_id / principal object_id)."""
        app = App(client_id or str(uuid.uuid4()), object_id or str(uuid.uuid4()), display_name)
        if secret is not None:
            app.secrets.append(_Secret(secret, secret_expires_at))
        if cert is not None:
            app.certificates.append(_as_certificate(cert))
        with self._lock:
            self._apps[app.client_id.lower()] = app
        return app

    def add_secret(self, app: App, secret: str, expires_at: Optional[float] = None) -> None:
        with self._lock:
            app.secrets.append(_Secret(secret, expires_at))

    def add_certificate(self, app: App, cert) -> None:
        with self._lock:
            app.certificates.append(_as_certificate(cert))

    def add_federated_credential(self, app: App, issuer_url: str, subject: str,
                                 audience: str = "api://AzureADTokenExchange", name: str = "") -> FederatedCredential:
        """What `az identity federated-credential create` (ARM) or Graph's POST does, with their refusals:
        FederatedCredentialRefused for a 21st credential or an (issuer, subject) pair already present."""
        with self._lock:
            cred = FederatedCredential(issuer_url, subject, audience, name or f"fic-{len(app.federated)}")
            if any(c.issuer == issuer_url and c.subject == subject for c in app.federated):
                raise FederatedCredentialRefused(409, "FederatedIdentityCredentialAlreadyExists",
                                                 f"A federated identity credential with issuer '{issuer_url}' and "
                                                 f"subject '{subject}' already exists.")
            if len(app.federated) >= MAX_FEDERATED_CREDENTIALS:
                raise FederatedCredentialRefused(400, "BadRequest",
                                                 f"Too many federated identity credentials are configured for "
                                                 f"'{app.client_id}'. A maximum of {MAX_FEDERATED_CREDENTIALS} "
                                                 "federated identity credentials is allowed per application or "
                                                 "user-assigned managed identity.")
            app.federated.append(cred)
        return cred

    def remove_federated_credential(self, app: App, subject: str, issuer_url: Optional[str] = None) -> None:
        with self._lock:
            app.federated = [c for c in app.federated
                             if not (c.subject == subject and (issuer_url is None or c.issuer == issuer_url))]

    def remove_app(self, app: Union[App, str]) -> None:
        client_id = app.client_id if isinstance(app, App) else app
        with self._lock:
            self._apps.pop(client_id.lower(), None)

    def app(self, client_id: str) -> Optional[App]:
        with self._lock:
            return self._apps.get(client_id.lower())

    # -- serving -------------------------------------------------------------------------------------------
    def serve(self, tls=None, host: str = "127.0.0.1", port: int = 0, netns=None) -> EmulatorServer:
        """An EmulatorServer for this emulator (start it, or use it as a context manager); `netns` names a
        network namespace to listen in."""
        self.scheme = "https" if tls is not None else "http"
        return EmulatorServer(self, host=host, port=port, tls=tls, netns=netns)

    def handle(self, req: Request) -> Response:
        return answer(self.faults, self.log, req, self._route)

    def _route(self, req: Request) -> Response:
        resp = self._router.dispatch(req)
        if resp is None:
            return Response.json(404, {"error": "not_found", "error_description": f"No route for {req.path}"})
        return resp

    def _base_url(self, req: Request) -> str:
        return f"{self.scheme}://{req.header('host', '127.0.0.1')}"

    def _error(self, e: err.EntraError, req: Request) -> Response:
        return e.response(req.header("client-request-id") or _first(req.query, "client-request-id"))

    # -- token endpoint ------------------------------------------------------------------------------------
    def _token(self, req: Request, tenant: str, v2: bool) -> Response:
        form = req.form()
        record = TokenRequest("v2" if v2 else "v1", form, 0)
        with self._lock:
            self.token_log.append(record)
        try:
            if tenant.lower() != self.tenant_id.lower():
                raise err.unknown_tenant(tenant)
            resource = self._resource(form, v2)
            app = self._authenticate(req, form, tenant, record)
            resp = self._issue(req, app, resource, form, v2)
        except err.EntraError as e:
            record.error_code = e.code
            resp = self._error(e, req)
        record.status = resp.status
        return resp

    def _resource(self, form: dict[str, str], v2: bool) -> str:
        grant = form.get("grant_type")
        if not grant:
            raise err.missing_parameter("grant_type")
        if grant != "client_credentials":
            raise err.unsupported_grant(grant)
        if not form.get("client_id"):
            raise err.missing_parameter("client_id")
        if v2:
            scope = form.get("scope", "").strip()
            if not scope:
                raise err.missing_parameter("scope")
            if " " in scope:
                raise err.invalid_scope(scope)
            if not scope.endswith("/.default"):
                raise err.scope_not_default(scope)
            resource = scope[: -len("/.default")]
        else:
            resource = form.get("resource", "")
            if not resource:
                raise err.resource_missing()
        if self.resources is not None and not ({resource, resource.rstrip("/")} & self.resources):
            raise err.unknown_resource(resource, self.tenant_id)
        return resource

    def _authenticate(self, req: Request, form: dict[str, str], tenant: str, record: TokenRequest) -> App:
        client_id = form["client_id"]
        app = self.app(client_id)
        if app is None:
            raise err.unknown_app(client_id, tenant)
        now = time.time()
        if "client_secret" in form:
            record.credential = "secret"
            return self._check_secret(app, form["client_secret"], now)
        assertion = form.get("client_assertion")
        if not assertion:
            raise err.no_credential()
        if form.get("client_assertion_type") != JWT_BEARER:
            raise err.bad_assertion_type(form.get("client_assertion_type", ""))
        header, claims = unverified(assertion)
        if "x5t" in header or "x5t#S256" in header or claims.get("iss") == app.client_id:
            record.credential = "certificate"
            verify_certificate_assertion(assertion, header, claims, client_id=app.client_id,
                                         certificates=list(app.certificates),
                                         audiences=token_endpoint_audiences(self._base_url(req), tenant), now=now)
        else:
            record.credential = "federated"
            match_federated(list(app.federated), claims, legacy_error=self.federated_errors == "legacy")
            check_time(claims, now)
            self.oidc.verify(assertion, header, claims["iss"])
        return app

    @staticmethod
    def _check_secret(app: App, presented: str, now: float) -> App:
        matched = [s for s in app.secrets if hmac.compare_digest(s.value.encode(), presented.encode())]
        if not matched:
            raise err.invalid_secret(app.client_id)
        if all(s.expires_at is not None and s.expires_at < now for s in matched):
            raise err.expired_secret(app.client_id)
        return app

    def _issue(self, req: Request, app: App, resource: str, form: dict[str, str], v2: bool) -> Response:
        # appidacr: 1 = secret, 2 = certificate or assertion (what real v1 tokens carry).
        acr = "1" if "client_secret" in form else "2"
        token, exp = self.issuer.issue(audience=resource, oid=app.object_id, appid=app.client_id,
                                       ttl_s=self.token_ttl_s, extra={"idtyp": "app", "appidacr": acr})
        claims = jwt.decode(token, options={"verify_signature": False})
        expires_in = exp - int(time.time())
        if v2:
            body = {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                    "access_token": token}
        else:
            body = {"token_type": "Bearer", "expires_in": str(expires_in), "ext_expires_in": str(expires_in),
                    "expires_on": str(exp), "not_before": str(claims["nbf"]), "resource": resource,
                    "access_token": token}
        correlation = req.header("client-request-id") or _first(req.query, "client-request-id")
        return Response.json(200, body, headers=err.no_cache_headers(str(uuid.uuid4()), correlation))

    # -- metadata ------------------------------------------------------------------------------------------
    def _openid(self, req: Request, m: re.Match, v2: bool) -> Response:
        tenant = m["tenant"]
        if tenant.lower() not in (self.tenant_id.lower(), "common", "organizations"):
            return self._error(err.unknown_tenant(tenant), req)
        base, tid = self._base_url(req), self.tenant_id
        if v2:
            doc = {"token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
                   "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
                   "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
                   "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
                   "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys", "issuer": f"{base}/{tid}/v2.0"}
        else:
            doc = {"token_endpoint": f"{base}/{tid}/oauth2/token",
                   "authorization_endpoint": f"{base}/{tid}/oauth2/authorize",
                   "end_session_endpoint": f"{base}/{tid}/oauth2/logout",
                   "jwks_uri": f"{base}/{tid}/discovery/keys", "issuer": self.issuer.issuer}
        doc.update({"token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                             "client_secret_basic"],
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                    "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
                    "cloud_graph_host_name": "graph.windows.net", "msgraph_host": "graph.microsoft.com",
                    "http_logout_supported": True, "frontchannel_logout_supported": True,
                    "request_uri_parameter_supported": False})
        return Response.json(200, doc)

    def _instance(self, req: Request) -> Response:
        """MSAL instance discovery: answers for authorities on this emulator only."""
        endpoint = _first(req.query, "authorization_endpoint") or ""
        host = req.header("host", "")
        parts = urlsplit(endpoint)
        match = re.match(r"/([^/]+)/oauth2/v2\.0/authorize\Z", parts.path)
        # msal-python sends the authority's host without its port, so compare host names only.
        if (parts.hostname or "") != (urlsplit(f"//{host}").hostname or "") or not match:
            return self._error(err.unknown_instance(), req)
        base = self._base_url(req)
        return Response.json(200, {
            "tenant_discovery_endpoint": f"{base}/{match.group(1)}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})


def _fault_body(status: int) -> bytes:
    if status == 429:
        e = err.EntraError("temporarily_unavailable", 50196, "The server is temporarily throttling requests.", 429)
    else:
        e = err.EntraError("temporarily_unavailable", 90033, "A transient error has occurred. Please try again.",
                           status)
    return e.response().body


def _first(query: dict[str, list[str]], name: str) -> Optional[str]:
    values = query.get(name)
    return values[0] if values else None
