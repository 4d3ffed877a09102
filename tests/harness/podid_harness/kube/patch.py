# SPDX-License-Identifier: Apache-2.0
"""The three patch types the API server accepts without server-side apply: JSON merge patch (RFC 7386), JSON
patch (RFC 6902) and a strategic merge patch good enough for what kubectl sends.

Strategic merge here: maps merge as in a merge patch; lists of objects merge by the merge keys the built-in types
declare (containers by name, conditions by type, ...); `finalizers` merge as a set; other lists are replaced.
Directives kubectl emits are honoured: `$patch: replace|delete` in maps and list items,
`$setElementOrder/<field>` (ignored: order follows the patch), `$deleteFromPrimitiveList/<field>`,
`$retainKeys`.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from .errors import ApiError, bad_request

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Field name -> merge key, from the patchMergeKey tags of core/v1 and meta/v1 types.
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
               "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
               "ports": "containerPort", "conditions": "type", "ownerReferences": "uid",
               "imagePullSecrets": "name", "hostAliases": "ip", "addresses": "type", "secrets": "name",
               "topologySpreadConstraints": "topologyKey", "podIPs": "ip", "hostIPs": "ip"}
_PRIMITIVE_SETS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            out[field] = [x for x in out.get(field) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            out[k] = _merge_list(k, out.get(k), v)
        else:
            merged = strategic_merge_patch(out.get(k), v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(field: str, current: Any, patch: list) -> list:
    current = current if isinstance(current, list) else []
    if field in _PRIMITIVE_SETS:
        return list(current) + [x for x in patch if x not in current]
    key = _MERGE_KEYS.get(field)
    if key is None or not all(isinstance(x, dict) for x in patch):
        return [x for x in copy.deepcopy(patch) if not (isinstance(x, dict) and x.get("$patch"))]
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if x.get("$patch") is None]
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


def _get(doc: Any, parts: list[str]) -> Any:
    return _parent(doc, parts + [""]) if parts else doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts)
    return parent.pop(int(parts[-1])) if isinstance(parent, list) else parent.pop(parts[-1])


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    if isinstance(parent, list):
        idx = len(parent) if parts[-1] == "-" else int(parts[-1])
        if idx > len(parent) or idx < 0:
            raise IndexError(idx)
        parent.insert(idx, value)
    else:
        parent[parts[-1]] = value
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json patch must be a JSON array of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        kind, path = op.get("op"), _pointer(op.get("path", ""))
        try:
            if kind == "add":
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                _get(doc, path)  # must exist
                if path:
                    _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            elif kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = _remove(doc, src) if kind == "move" else copy.deepcopy(_get(doc, src))
                doc = _add(doc, path, value)
            elif kind == "test":
                if _get(doc, path) != op.get("value"):
                    raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                        f"testing value {op.get('path')} failed", "Invalid")
            else:
                raise bad_request(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                f"{kind} operation does not apply: doc is missing path: {op.get('path')}: {e}",
                           "Invalid") from e
    return doc


def apply_patch(content_type: str, target: dict, body: bytes) -> dict:
    ctype = (content_type or "").split(";")[0].strip()
    if ctype == APPLY_PATCH:
        raise ApiError(415, "server-side apply is not implemented by the podid API stand-in",
                       "UnsupportedMediaType")
    try:
        patch = json.loads(body or b"null")
    except ValueError as e:
        raise bad_request(f"error decoding patch: {e}") from e
    if ctype == MERGE_PATCH:
        return merge_patch(target, patch)
    if ctype == STRATEGIC_PATCH:
        return strategic_merge_patch(target, patch)
    if ctype == JSON_PATCH:
        return json_patch(target, patch)
    raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                        f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}", "UnsupportedMediaType")
