# SPDX-License-Identifier: Apache-2.0
"""Label and field selectors, parsed the way the API server parses them (k8s.io/apimachinery/pkg/labels and
fields): labels take =, ==, !=, in, notin, exists and !exists; fields take =, == and != on a per-type list of
supported labels, and anything else is refused with the server's own message."""
from __future__ import annotations

import re
from typing import Callable, Optional

from .errors import bad_request

Matcher = Callable[[dict], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET_RX = re.compile(rf"\s*(!?)\s*({_KEY})\s*(?:(notin|in)\s*\(([^)]*)\)|(==|!=|=)\s*({_VALUE}))?\s*\Z")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b` is two requirements)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_labels(text: Optional[str]) -> Matcher:
    reqs: list[Matcher] = []
    for part in _split_top(text or ""):
        m = _SET_RX.match(part)
        if not m:
            raise bad_request(f"unable to parse requirement: {part.strip()!r}")
        neg, key, setop, setvals, op, value = m.groups()
        if neg and (setop or op):
            raise bad_request(f"unable to parse requirement: {part.strip()!r}")
        reqs.append(_label_req(neg, key, setop, setvals, op, value))
    return lambda obj: all(r((obj.get("metadata") or {}).get("labels") or {}) for r in reqs)


def _label_req(neg, key, setop, setvals, op, value) -> Callable[[dict], bool]:
    if setop:
        vals = {v.strip() for v in setvals.split(",") if v.strip()}
        if setop == "in":
            return lambda labels: labels.get(key) in vals
        return lambda labels: labels.get(key) not in vals
    if op in ("=", "=="):
        return lambda labels: key in labels and labels[key] == value
    if op == "!=":
        return lambda labels: labels.get(key) != value
    if neg:
        return lambda labels: key not in labels
    return lambda labels: key in labels


# Field labels every type supports; types add their own (see discovery.BUILTIN field_labels).
COMMON_FIELDS = ("metadata.name", "metadata.namespace")


def field_value(obj: dict, label: str) -> str:
    cur = obj
    for part in label.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(text: Optional[str], supported: tuple[str, ...]) -> Matcher:
    reqs: list[tuple[str, bool, str]] = []
    for part in _split_top(text or ""):
        m = re.match(r"\s*([^!=]+?)\s*(==|!=|=)\s*(.*?)\s*\Z", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        label, op, value = m.groups()
        if label not in supported:
            raise bad_request(f'field label not supported: {label}')
        reqs.append((label, op != "!=", value))
    return lambda obj: all((field_value(obj, lbl) == v) == eq for lbl, eq, v in reqs)
