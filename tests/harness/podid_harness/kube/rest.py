# SPDX-License-Identifier: Apache-2.0
"""The REST semantics of resources, independent of HTTP: the registry of served types (built-in plus those CRDs
add), and create / get / list / update / patch / delete with the defaulting, validation and status-subresource
rules of the real API server."""
from __future__ import annotations

import base64
import copy
import datetime
import json
import re
import threading
from typing import Callable, Optional

from . import errors
from .errors import ApiError
from .patch import STRATEGIC_PATCH, apply_patch
from .resources import BUILTIN, CRD_GR, ResourceType, crd_types, established_status
from .schema import admit
from .selectors import parse_fields, parse_labels
from .store import Change, Store, now_rfc3339
from .tokens import ServiceAccountSigner

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Resources:
    def __init__(self, store: Store, signer: ServiceAccountSigner) -> None:
        self.store, self.signer = store, signer
        self._lock = threading.Lock()
        self._types: list[ResourceType] = list(BUILTIN)
        self._crd_types: dict[str, list[ResourceType]] = {}
        self._schemas: dict[tuple[str, str, str], dict] = {}   # (group, version, plural) -> openAPIV3Schema
        store.on_change.append(self._crd_changed)
        for ns in BOOT_NAMESPACES:
            self.create(self.lookup("", "v1", "namespaces"), "", {"metadata": {"name": ns}})

    # ---- registry ----------------------------------------------------------------------------------------
    def types(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types)

    def register(self, rt: ResourceType) -> None:
        """Serve one more type (tests that need a built-in this stand-in does not carry, e.g. apps/v1)."""
        with self._lock:
            if rt not in self._types:
                self._types.append(rt)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType:
        for t in self.types():
            if (t.group, t.version, t.plural) == (group, version, plural):
                return t
        raise ApiError(404, "the server could not find the requested resource", "NotFound")

    def _crd_changed(self, ch: Change) -> None:
        if ch.gr != CRD_GR:
            return
        name = ch.obj["metadata"]["name"]
        with self._lock:
            old = self._crd_types.pop(name, [])
            self._types = [t for t in self._types if t not in old]
            for t in old:
                self._schemas.pop((t.group, t.version, t.plural), None)
            if ch.type != "DELETED":
                new = crd_types(ch.obj)
                self._crd_types[name] = new
                self._types.extend(new)
                spec = ch.obj.get("spec") or {}
                for v in spec.get("versions") or ():
                    schema = (v.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        key = (spec["group"], v["name"], (spec.get("names") or {}).get("plural"))
                        self._schemas[key] = schema
        if ch.type == "DELETED" and old:
            self.store.drop_all(old[0].gr)

    # ---- helpers -----------------------------------------------------------------------------------------
    def _out(self, rt: ResourceType, obj: dict) -> dict:
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return obj

    def _admit(self, rt: ResourceType, obj: dict) -> dict:
        """A custom resource as its CRD's structural schema lets it be stored: pruned, validated (422)."""
        if not rt.custom:
            return obj
        with self._lock:
            schema = self._schemas.get((rt.group, rt.version, rt.plural))
        return admit(rt.kind, rt.group, schema, obj)

    def _check_ns(self, rt: ResourceType, ns: str) -> None:
        if rt.namespaced and self.store.find(self.lookup("", "v1", "namespaces"), "", ns) is None:
            raise errors.not_found("namespaces", "", ns)

    def _validate_name(self, rt: ResourceType, name: str) -> None:
        rx, what = (_LABEL, "RFC 1123 label") if rt.plural == "namespaces" else (_SUBDOMAIN, "RFC 1123 subdomain")
        if len(name) > 253 or not rx.match(name):
            raise errors.invalid(rt.kind, rt.group, name, "metadata.name", name,
                                 f"a lowercase {what} must consist of lower case alphanumeric characters, '-' "
                                 f"or '.', and must start and end with an alphanumeric character")

    def _prepare(self, rt: ResourceType, ns: str, body, keep_status: bool) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("apiVersion") not in (None, rt.api_version) or obj.get("kind") not in (None, rt.kind):
            raise errors.bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                                     f"expected API version ({rt.api_version})")
        self._out(rt, obj)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") not in (None, "", ns):
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if not md.get("name") and not md.get("generateName"):
            raise ApiError(422, f'{rt.kind} "" is invalid: metadata.name: Required value: name or generateName '
                                f'is required', "Invalid")
        if md.get("name"):
            self._validate_name(rt, md["name"])
        md.pop("resourceVersion", None)
        self._defaults(rt, obj, keep_status)
        return obj

    def _defaults(self, rt: ResourceType, obj: dict, keep_status: bool) -> None:
        key = (rt.group, rt.plural)
        if key == ("", "pods"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
            if not keep_status or "status" not in obj:
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif key == ("", "namespaces"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
            obj["status"] = {"phase": "Active"}
        elif key == ("", "secrets"):
            obj.setdefault("type", "Opaque")
            for k, v in (obj.pop("stringData", None) or {}).items():
                obj.setdefault("data", {})[k] = base64.b64encode(str(v).encode()).decode()
        elif key == CRD_GR:
            crd_types(obj)  # refuse a CRD the server would refuse, before storing it
            obj["status"] = established_status({**obj, "metadata": {"creationTimestamp": now_rfc3339()}})
        elif rt.custom and "status" in rt.subresources and not keep_status:
            obj.pop("status", None)

    # ---- verbs -------------------------------------------------------------------------------------------
    def create(self, rt: ResourceType, ns: str, body, keep_status: bool = False, keep_uid: bool = False) -> dict:
        obj = self._admit(rt, self._prepare(rt, ns, body, keep_status))
        self._check_ns(rt, ns)
        created = self.store.create(rt, obj, keep_uid=keep_uid)
        if rt.gr == ("", "namespaces"):
            # The service-account controller gives every namespace a `default` account.
            self.create(self.lookup("", "v1", "serviceaccounts"), created["metadata"]["name"],
                        {"metadata": {"name": "default"}})
        return self._out(rt, created)

    def get(self, rt: ResourceType, ns: str, name: str) -> dict:
        return self._out(rt, self.store.get(rt, ns, name))

    def matcher(self, rt: ResourceType, ns: str, label: Optional[str], field: Optional[str]) -> Callable:
        lm, fm = parse_labels(label), parse_fields(field, rt.selectable_fields)
        return lambda o: (not ns or (o.get("metadata") or {}).get("namespace") == ns) and lm(o) and fm(o)

    def list(self, rt: ResourceType, ns: str, label: Optional[str] = None, field: Optional[str] = None,
             limit: int = 0, cont: str = "") -> dict:
        first_rv: Optional[int] = None
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                start, first_rv = tuple(token["start"]), int(token["rv"])
            except (ValueError, KeyError, TypeError) as e:
                raise errors.bad_request(f"continue key is not valid: {e}") from e
            if first_rv < self.store.compacted_rv:
                raise errors.expired("The provided continue parameter is too old to display a consistent list "
                                     "result. You can start a new list without the continue parameter.")
        # Every page of one list shows the objects as they were at the first page's revision.
        items, rv = self.store.list(rt, ns, self.matcher(rt, ns, label, field), at_rv=first_rv)
        md: dict = {"resourceVersion": str(rv)}
        if cont:
            items = [i for i in items if _key(i) > start]
        if limit and len(items) > limit:
            token = {"rv": int(md["resourceVersion"]), "start": list(_key(items[limit - 1]))}
            md["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            md["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": md,
                "items": [self._out(rt, i) for i in items]}

    def replace(self, rt: ResourceType, ns: str, name: str, body, subresource: Optional[str] = None) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        body = copy.deepcopy(body)
        body.setdefault("metadata", {}).setdefault("name", name)
        out = self.store.update(rt, ns, name, lambda _cur: self._admit(rt, body), subresource)
        return self._after_update(rt, out)

    def patch(self, rt: ResourceType, ns: str, name: str, content_type: str, body: bytes,
              subresource: Optional[str] = None) -> dict:
        if rt.custom and (content_type or "").startswith(STRATEGIC_PATCH):
            raise ApiError(415, "strategic merge patch is not supported for custom resources; use a JSON merge "
                                "patch or a JSON patch", "UnsupportedMediaType")

        def mutate(cur: dict) -> dict:
            rv = cur["metadata"].pop("resourceVersion")
            new = apply_patch(content_type, cur, body)
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise errors.bad_request("the patch did not produce an object")
            # The patch may carry its own resourceVersion (a precondition); otherwise it applies to the current.
            new["metadata"].setdefault("resourceVersion", rv)
            return self._admit(rt, new)
        return self._after_update(rt, self.store.update(rt, ns, name, mutate, subresource))

    def _after_update(self, rt: ResourceType, out: dict) -> dict:
        if rt.gr == CRD_GR and not out["metadata"].get("deletionTimestamp"):
            # Accepted names and stored versions follow the spec, as the apiextensions controller keeps them.
            status = established_status(out)
            out = self.store.update(rt, "", out["metadata"]["name"],
                                    lambda cur: {**cur, "status": status}, "status")
        return self._out(rt, out)

    def delete(self, rt: ResourceType, ns: str, name: str, options: Optional[dict] = None) -> dict:
        pre = (options or {}).get("preconditions") or {}
        out = self.store.delete(rt, ns, name, pre)
        if rt.gr == ("", "namespaces") and not out["metadata"].get("deletionTimestamp"):
            self._empty_namespace(name)
        return self._out(rt, out)

    def _empty_namespace(self, ns: str) -> None:
        # The namespace controller's job, done at once: everything in the namespace goes with it.
        for t in self.types():
            if t.namespaced:
                for o in self.store.list(t, ns, lambda _o: True)[0]:
                    try:
                        self.store.delete(t, ns, o["metadata"]["name"])
                    except ApiError:
                        pass

    def delete_collection(self, rt: ResourceType, ns: str, label: Optional[str], field: Optional[str]) -> dict:
        listed = self.list(rt, ns, label, field)
        for o in listed["items"]:
            try:
                self.store.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"])
            except ApiError:
                pass
        return listed

    def token_request(self, ns: str, name: str, body) -> dict:
        """TokenRequest as pkg/registry/core/serviceaccount/storage/token.go serves it: the lifetime validated
        first (422), then the service account (404), the bound object's kind, the pod (404), the pod's own
        service account (400) and its uid (409). A node user's request has been through NodeRestriction
        (node_auth.py) before it gets here."""
        spec = (body or {}).get("spec") or {}
        self.signer.validate_expiration(spec)
        sa = self.store.get(self.lookup("", "v1", "serviceaccounts"), ns, name)
        ref, pod, node = spec.get("boundObjectRef"), None, None
        if ref:
            if ref.get("kind") != "Pod":
                raise ApiError(422, f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                                    f'spec.boundObjectRef.kind: Unsupported value: "{ref.get("kind")}"', "Invalid")
            pod = self.store.get(self.lookup("", "v1", "pods"), ns, ref.get("name", ""))
            if (pod.get("spec") or {}).get("serviceAccountName", "default") != name:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                         f'different serviceaccount name.')
            if ref.get("uid") and ref["uid"] != pod["metadata"]["uid"]:
                raise ApiError(409, f'the UID in the bound object reference ({ref["uid"]}) does not match the '
                                    f'UID in record. The object might have been deleted and then recreated',
                               "Conflict")
            # ServiceAccountTokenPodNodeInfo: the pod's node goes into the token too.
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                node = self.store.find(self.lookup("", "v1", "nodes"), "", node_name)
        token, exp = self.signer.issue(ns, sa, spec, pod, node)
        ts = datetime.datetime.fromtimestamp(exp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out_spec = dict(spec)
        out_spec["audiences"] = list(spec.get("audiences") or [self.signer.issuer])
        out_spec.setdefault("expirationSeconds", 3600)
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": None}, "spec": out_spec,
                "status": {"token": token, "expirationTimestamp": ts}}


def _key(obj: dict) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return (md.get("namespace", ""), md.get("name", ""))
