# SPDX-License-Identifier: Apache-2.0
"""The HTTP face of the stand-in: faults, authentication, discovery, URL -> (verb, resource) parsing,
authorization, and the REST verbs of rest.Resources, with watches streamed by watch.stream."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Optional

from ..httpbase import Request, Response
from . import discovery, tables
from .auth import Authorizer, unauthorized
from .client_certs import ClientCA, identity_of
from .errors import ApiError, bad_request
from .faults import Faults
from .node_auth import AUDIENCE_VERB, admit_node_token_request, no_relationship, node_may_create_token, node_of
from .rest import Resources
from .store import Store, Watcher
from .tokens import ServiceAccountSigner
from .watch import error_stream, stream

_PUBLIC = ("/healthz", "/livez", "/readyz", "/.well-known/openid-configuration", "/openid/v1/jwks")


@dataclass
class Target:
    """A parsed resource URL."""
    verb: str
    group: str
    version: str
    plural: str
    namespace: str
    name: str
    subresource: str


def _q(req: Request, name: str, default: str = "") -> str:
    return (req.query.get(name) or [default])[-1]


def _flag(req: Request, name: str) -> bool:
    return _q(req, name).lower() in ("1", "true")


class KubeEmulator:
    def __init__(self, history_window: int = 1000, bookmark_interval_s: float = 1.0,
                 expired_watch_as_event: bool = True) -> None:
        self.store = Store(history_window)
        self.auth = Authorizer()
        self.client_ca = ClientCA.shared()
        # ServiceAccountNodeAudienceRestriction (beta, on by default from Kubernetes 1.33).
        self.node_audience_restriction = True
        self.faults = Faults(lambda: self.store.end_watches("DROP"))
        self.bookmark_interval_s = bookmark_interval_s
        self.expired_watch_as_event = expired_watch_as_event
        self.url = ""   # set once the listener is up: the issuer and /api's serverAddress derive from it
        self.signer: Optional[ServiceAccountSigner] = None
        self.resources: Optional[Resources] = None
        self._log_lock = threading.Lock()
        self.request_log: list[dict] = []

    def bind(self, url: str) -> None:
        self.url = url
        self.signer = ServiceAccountSigner(url)
        self.resources = Resources(self.store, self.signer)

    # ---- entry point -------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        entry = {"time": time.time(), "method": req.method, "path": req.path, "query": req.query,
                 "user": None, "user_agent": req.header("user-agent", ""), "verb": None, "resource": None}
        try:
            resp = self._handle(req, entry)
        except ApiError as e:
            resp = Response.json(e.code, e.status(), getattr(e, "headers", None))
        except Exception as e:  # noqa: BLE001 - a bug here must reach the client as a 500, not kill the thread
            resp = Response.json(500, ApiError(500, f"podid API stand-in internal error: {e!r}").status())
        entry["code"] = resp.status
        with self._log_lock:
            self.request_log.append(entry)
        return resp

    def _handle(self, req: Request, entry: dict) -> Response:
        err, headers = self.faults.before(req.raw_path or req.path)
        if err is not None:
            err.headers = headers  # type: ignore[attr-defined]
            raise err
        path = req.path.rstrip("/") or "/"
        if path in _PUBLIC:
            return self._public(path)
        user, groups = self._authenticate(req)
        entry["user"], entry["groups"] = user, list(groups)
        if path in ("/version", "/api", "/apis", "/openapi/v2", "/openapi/v3") or path.count("/") <= 3 and \
                path.startswith("/apis/") or path == "/api/v1":
            return self._nonresource(req, path)
        t = self._parse(req, path)
        entry.update(verb=t.verb, group=t.group, resource=t.plural, subresource=t.subresource,
                     namespace=t.namespace, name=t.name)
        node = node_of(user, groups)
        node_token = node is not None and (t.group, t.plural, t.subresource, t.verb) == ("", "serviceaccounts",
                                                                                        "token", "create")
        if node_token and node_may_create_token(self._pods_on, node, t.namespace, t.name):
            pass    # the Node authorizer allows it; NodeRestriction admission follows in _dispatch
        else:
            self.auth.check(user, t.verb, t.group, t.plural, t.subresource, t.namespace, t.name, groups,
                            no_relationship(node) if node_token else "")
        return self._dispatch(req, t, user, groups)

    def _public(self, path: str) -> Response:
        if path == "/.well-known/openid-configuration":
            return Response.json(200, self.signer.openid_configuration())
        if path == "/openid/v1/jwks":
            return Response.json(200, self.signer.jwks(), content_type="application/jwk-set+json")
        return Response.text(200, "ok")

    def _authenticate(self, req: Request) -> tuple[str, tuple[str, ...]]:
        """(user, groups): a client certificate of the client CA first (as the x509 authenticator runs before
        the token authenticators), then a bearer token."""
        cert = identity_of(req.peer_cert)
        if cert is not None:
            return cert
        authz = req.header("authorization") or ""
        if authz.lower().startswith("bearer "):
            token = authz[7:].strip()
            user = self.auth.user_for(token) or self.signer.user_of(token)
            if user:
                return user, ()
        raise unauthorized()

    def _pods_on(self, node: str) -> list[dict]:
        rt = self.resources.lookup("", "v1", "pods")
        return self.store.list(rt, "", lambda o: (o.get("spec") or {}).get("nodeName") == node)[0]

    def _nonresource(self, req: Request, path: str) -> Response:
        types = self.resources.types()
        if path == "/version":
            return Response.json(200, discovery.SERVER_VERSION)
        if path == "/api":
            return Response.json(200, discovery.api_versions(self.url.split("://", 1)[1]))
        if path == "/api/v1":
            return Response.json(200, discovery.resource_list(types, "", "v1"))
        if path == "/apis":
            return Response.json(200, discovery.api_group_list(types))
        if path == "/openapi/v2":
            body, ctype = discovery.openapi_v2(req.header("accept", ""))
            return Response(200, body, [("Content-Type", ctype)])
        parts = path.split("/")[2:]
        if len(parts) == 1 and discovery.api_group(types, parts[0])["versions"]:
            return Response.json(200, discovery.api_group(types, parts[0]))
        if len(parts) == 2:
            doc = discovery.resource_list(types, parts[0], parts[1])
            if doc["resources"]:
                return Response.json(200, doc)
        raise ApiError(404, "the server could not find the requested resource", "NotFound")

    def _parse(self, req: Request, path: str) -> Target:
        segs = path.split("/")[1:]
        if segs[0] == "api" and len(segs) >= 3 and segs[1] == "v1":
            group, version, segs = "", "v1", segs[2:]
        elif segs[0] == "apis" and len(segs) >= 4:
            group, version, segs = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        ns = ""
        if len(segs) >= 3 and segs[0] == "namespaces" and segs[2] not in ("status", "finalize"):
            ns, segs = segs[1], segs[2:]
        if len(segs) > 3:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        plural, name, sub = (segs + ["", ""])[:3]
        rt = self.resources.lookup(group, version, plural)
        if (rt.namespaced and name and not ns) or (ns and not rt.namespaced) or (sub and sub not in
                                                                                 rt.subresources):
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        m = req.method
        if m == "GET":
            verb = "get" if name else ("watch" if _flag(req, "watch") else "list")
        elif m == "POST" and (not name or sub == "token"):
            verb = "create"
        elif m == "PUT" and name:
            verb = "update"
        elif m == "PATCH" and name:
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise ApiError(405, "the server does not allow this method on the requested resource", None)
        return Target(verb, group, version, plural, ns, name, sub)

    # ---- verbs -------------------------------------------------------------------------------------------
    def _dispatch(self, req: Request, t: Target, user: str = "", groups: tuple[str, ...] = ()) -> Response:
        res = self.resources
        rt = res.lookup(t.group, t.version, t.plural)
        if _q(req, "dryRun"):
            raise bad_request("dryRun is not implemented by the podid API stand-in")
        table_v = tables.wants_table(req.header("accept"))
        if t.verb == "watch":
            return self._watch(req, t, rt, table_v)
        if t.verb == "list":
            out = res.list(rt, t.namespace, _q(req, "labelSelector"), _q(req, "fieldSelector"),
                           int(_q(req, "limit", "0") or 0), _q(req, "continue"))
            since = _q(req, "resourceVersion")
            if since not in ("", "0") and int(since) < self.store.compacted_rv:
                raise ApiError(410, f"too old resource version: {since} ({self.store.compacted_rv + 1})",
                               "Expired")
            if table_v:
                out = tables.table(rt, out["items"], out["metadata"]["resourceVersion"],
                                   _q(req, "includeObject", "PartialObjectMetadata"), table_v,
                                   out["metadata"].get("continue", ""))
            return Response.json(200, out)
        if t.verb == "get":
            out = res.get(rt, t.namespace, t.name)
            if table_v:
                out = tables.table(rt, [out], out["metadata"]["resourceVersion"],
                                   _q(req, "includeObject", "PartialObjectMetadata"), table_v)
            return Response.json(200, out)
        body = self._body(req) if t.verb in ("create", "update", "delete") else None
        if t.verb == "create":
            if t.subresource == "token":
                node = node_of(user, groups)
                if node is not None:
                    pods = res.lookup("", "v1", "pods")
                    admit_node_token_request(
                        node, t.namespace, t.name, (body or {}).get("spec") or {},
                        lambda pod: res.get(pods, t.namespace, pod),
                        lambda aud: self.auth.allows(user, groups, AUDIENCE_VERB, "", aud, t.namespace),
                        self.node_audience_restriction)
                return Response.json(201, res.token_request(t.namespace, t.name, body))
            return Response.json(201, res.create(rt, t.namespace, body))
        if t.verb == "update":
            return Response.json(200, res.replace(rt, t.namespace, t.name, body, t.subresource or None))
        if t.verb == "patch":
            return Response.json(200, res.patch(rt, t.namespace, t.name, req.header("content-type", ""),
                                                req.body, t.subresource or None))
        if t.verb == "delete":
            return Response.json(200, res.delete(rt, t.namespace, t.name, body if isinstance(body, dict) else None))
        return Response.json(200, res.delete_collection(rt, t.namespace, _q(req, "labelSelector"),
                                                        _q(req, "fieldSelector")))

    @staticmethod
    def _body(req: Request):
        try:
            return json.loads(req.body) if req.body else None
        except ValueError as e:
            raise bad_request(f"the body of the request was not valid JSON: {e}") from e

    def _watch(self, req: Request, t: Target, rt, table_v: Optional[str]) -> Response:
        match = self.resources.matcher(rt, t.namespace, _q(req, "labelSelector"), _q(req, "fieldSelector"))
        rv = _q(req, "resourceVersion")
        since = None if rv in ("", "0") else int(rv)
        w = Watcher(rt.gr, match, label=f"{req.header('user-agent', '')} {req.raw_path}")
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-cache, private")]
        try:
            self.store.watch(w, since, lambda: self.store.list(rt, t.namespace, match)[0])
        except ApiError as e:
            if not self.expired_watch_as_event:
                raise
            return Response(200, headers=headers, stream=error_stream(e.status()))

        def render(_typ: str, obj: dict) -> dict:
            obj = dict(obj, apiVersion=rt.api_version, kind=rt.kind)
            if table_v:
                return tables.table(rt, [obj], obj["metadata"]["resourceVersion"],
                                    _q(req, "includeObject", "PartialObjectMetadata"), table_v)
            return obj
        timeout = float(_q(req, "timeoutSeconds", "0") or 0) or None
        events = stream(self.store, w, rt, render, _flag(req, "allowWatchBookmarks"), self.bookmark_interval_s,
                        timeout)
        return Response(200, headers=headers, stream=events)
