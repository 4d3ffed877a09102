# SPDX-License-Identifier: Apache-2.0
"""Discovery documents (/version, /api, /api/v1, /apis, /apis/<group>/<version>) and a minimal /openapi/v2.

The OpenAPI document is deliberately empty: kubectl (client-go) fetches it as protobuf, and with no definitions it
skips client-side schema validation and builds strategic merge patches from its compiled-in types, which is what
makes plain `kubectl apply -f` work without `--validate=false`. /openapi/v3 answers 404, as on servers before 1.24,
so newer kubectl falls back to v2.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from .resources import ResourceType

SERVER_VERSION = {"major": "1", "minor": "26", "gitVersion": "v1.26.0-podid-standin",
                  "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                  "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.19", "compiler": "gc",
                  "platform": "linux/amd64"}

# What kube-openapi answers with (clients ask with "...spec.v2@v1.0+protobuf", which Go cannot parse back).
OPENAPI_PROTO_MIME = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _pb_field(num: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads here are short: one-byte varint lengths)."""
    assert len(payload) < 128
    return bytes([num << 3 | 2, len(payload)]) + payload


def openapi_v2(accept: str) -> tuple[bytes, str]:
    if "protobuf" in (accept or ""):
        # gnostic openapi_v2.Document{swagger: "2.0", info: {title: "Kubernetes", version: ...}}
        info = _pb_field(1, b"Kubernetes") + _pb_field(2, SERVER_VERSION["gitVersion"].encode())
        return _pb_field(1, b"2.0") + _pb_field(2, info), OPENAPI_PROTO_MIME
    body = ('{"swagger":"2.0","info":{"title":"Kubernetes","version":"%s"},"paths":{},"definitions":{}}'
            % SERVER_VERSION["gitVersion"])
    return body.encode(), "application/json"


def api_versions(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _by_group(types: Iterable[ResourceType]) -> "OrderedDict[str, list[str]]":
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for t in types:
        if t.group and t.version not in groups.setdefault(t.group, []):
            groups[t.group].append(t.version)
    return groups


def api_group_list(types: Iterable[ResourceType]) -> dict:
    groups = []
    for name, versions in _by_group(types).items():
        vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(types: Iterable[ResourceType], group: str) -> dict:
    versions = _by_group(types).get(group, [])
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": vs,
            "preferredVersion": vs[0] if vs else None}


def resource_list(types: Iterable[ResourceType], group: str, version: str) -> dict:
    resources = []
    for t in types:
        if t.group != group or t.version != version:
            continue
        entry = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
                 "verbs": list(t.verbs)}
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        if t.categories:
            entry["categories"] = list(t.categories)
        resources.append(entry)
        for sub in t.subresources:
            if sub == "token":
                resources.append({"name": f"{t.plural}/token", "singularName": "", "namespaced": True,
                                  "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                                  "verbs": ["create"]})
            else:
                resources.append({"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                                  "kind": t.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group
            else version, "resources": resources}
