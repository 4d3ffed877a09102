# SPDX-License-Identifier: Apache-2.0
"""Server-side printing: the meta.k8s.io/v1 `Table` kubectl asks for with `Accept: ...;as=Table`, with the
columns the real server prints for the built-in types and a CRD's additionalPrinterColumns for custom ones."""
from __future__ import annotations

import datetime
import re
from typing import Any, Callable, Optional

from .resources import ResourceType

_NAME_COL = {"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace."}


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    y, d = h // (24 * 365), (h // 24) % 365
    return f"{y}y" if d == 0 or h >= 24 * 365 * 8 else f"{y}y{d}d"


def age(ts: Optional[str]) -> str:
    if not ts:
        return "<unknown>"
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def json_path(obj: Any, path: str) -> Any:
    """The subset of JSONPath CRD printer columns use in practice: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`."""
    cur = [obj]
    for tok in re.findall(r'\.([^.\[]+)|\[(\d+|\?\(@\.\w+==?"[^"]*"\))\]', path):
        field, idx = tok
        nxt = []
        for c in cur:
            if field:
                if isinstance(c, dict) and field in c:
                    nxt.append(c[field])
            elif idx.isdigit():
                if isinstance(c, list) and int(idx) < len(c):
                    nxt.append(c[int(idx)])
            else:
                k, v = re.match(r'\?\(@\.(\w+)==?"([^"]*)"\)', idx).groups()
                nxt.extend(x for x in (c if isinstance(c, list) else []) if isinstance(x, dict) and x.get(k) == v)
        cur = nxt
    return cur[0] if cur else None


def _col(name: str, typ: str = "string", desc: str = "", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def _pod_cells(o: dict) -> list:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    cs = st.get("containerStatuses") or []
    ready = f"{sum(1 for c in cs if c.get('ready'))}/{len(spec.get('containers') or [])}"
    phase = "Terminating" if o["metadata"].get("deletionTimestamp") else st.get("phase", "Pending")
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    return [ready, phase, restarts, age(o["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>"]


def _node_cells(o: dict) -> list:
    conds = {c.get("type"): c.get("status") for c in (o.get("status") or {}).get("conditions") or []}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady" if "Ready" in conds else "Unknown"
    roles = ",".join(sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    return [status, roles, age(o["metadata"].get("creationTimestamp")),
            ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")]


def _event_cells(o: dict) -> list:
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{(inv.get('kind') or '').lower()}/"
            f"{inv.get('name', '')}", o.get("message", "")]


# (plural, group) -> (columns after Name, cells function). Event columns replace Name entirely.
_BUILTIN: dict[tuple[str, str], tuple[list[dict], Callable[[dict], list]]] = {
    ("pods", ""): ([_col("Ready"), _col("Status"), _col("Restarts", "integer"), _col("Age"),
                    _col("IP", priority=1), _col("Node", priority=1)], _pod_cells),
    ("nodes", ""): ([_col("Status"), _col("Roles"), _col("Age"), _col("Version")], _node_cells),
    ("namespaces", ""): ([_col("Status"), _col("Age")],
                         lambda o: [(o.get("status") or {}).get("phase", "Active"),
                                    age(o["metadata"].get("creationTimestamp"))]),
    ("secrets", ""): ([_col("Type"), _col("Data", "integer"), _col("Age")],
                      lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}),
                                 age(o["metadata"].get("creationTimestamp"))]),
    ("leases", "coordination.k8s.io"): ([_col("Holder"), _col("Age")],
                                        lambda o: [(o.get("spec") or {}).get("holderIdentity", ""),
                                                   age(o["metadata"].get("creationTimestamp"))]),
    ("customresourcedefinitions", "apiextensions.k8s.io"): ([_col("Created At", "date")],
                                                            lambda o: [o["metadata"].get("creationTimestamp")]),
}
_EVENT_COLS = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")]


def _custom(rt: ResourceType) -> tuple[list[dict], Callable[[dict], list]]:
    if not rt.printer_columns:
        return [_col("Age", "date")], lambda o: [age(o["metadata"].get("creationTimestamp"))]
    cols = [_col(c["name"], "string" if c.get("type") == "date" else c.get("type", "string"),
                 c.get("description", ""), int(c.get("priority", 0)), c.get("format", ""))
            for c in rt.printer_columns]

    def cells(o: dict) -> list:
        out = []
        for c in rt.printer_columns:
            v = json_path(o, c.get("jsonPath", ""))
            if c.get("type") == "date" and isinstance(v, str):
                v = age(v)
            elif isinstance(v, (dict, list)):
                v = str(v)
            out.append(v)
        return out
    return cols, cells


def columns(rt: ResourceType) -> tuple[list[dict], Callable[[dict], list]]:
    if rt.plural == "events":
        return _EVENT_COLS, _event_cells
    if rt.custom:
        extra, fn = _custom(rt)
    else:
        extra, fn = _BUILTIN.get((rt.plural, rt.group)) or (
            [_col("Age")], lambda o: [age(o["metadata"].get("creationTimestamp"))])
    return [_NAME_COL] + extra, lambda o: [o["metadata"].get("name")] + fn(o)


def _row_object(o: dict, include: str) -> Optional[dict]:
    if include == "None":
        return None
    if include == "Object":
        return o
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata", {})}


def table(rt: ResourceType, items: list[dict], rv: str, include: str = "PartialObjectMetadata",
          table_version: str = "v1", cont: str = "") -> dict:
    cols, cells = columns(rt)
    rows = []
    for o in items:
        row = {"cells": cells(o)}
        ro = _row_object(o, include)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    md = {"resourceVersion": rv}
    if cont:
        md["continue"] = cont
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_version}", "metadata": md,
            "columnDefinitions": cols, "rows": rows}


def wants_table(accept: Optional[str]) -> Optional[str]:
    """The Table version the client accepts first, or None (clients list alternatives in preference order)."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v", "v1")
        if part.strip().startswith("application/json") and "as" not in params:
            return None
    return None
