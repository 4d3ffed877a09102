# SPDX-License-Identifier: Apache-2.0
"""Per-request fault injection and request logs, shared by the IMDS and ARM emulators.

Tests make a real SDK see Azure's transient failures (404 while IMDS updates, 410 while it starts, 429, 500,
slow answers, reset connections) and then assert from the log how the SDK retried: how many attempts, how far
apart. Both exist because retry behaviour is only observable from the server's side.
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from ..httpbase import Request, Response


@dataclass
class Fault:
    """One injected failure. `count=None` means every matching request, forever."""
    status: Optional[int] = None          # None: no status override (e.g. latency or reset only)
    retry_after: Optional[float] = None   # seconds; sent as Retry-After (integer when whole)
    count: Optional[int] = 1
    path_regex: Optional[str] = None      # searched in the path+query; None matches all
    method: Optional[str] = None
    delay_s: float = 0.0                  # added latency before the answer (or before the fault)
    reset: bool = False                   # close the connection without an answer
    body: Optional[bytes] = None          # default: a JSON error body in the emulator's own shape
    headers: list[tuple[str, str]] = field(default_factory=list)
    probability: float = 1.0              # the share of matching requests it hits (a soak's "5% of calls")
    hits: int = 0


class FaultPlan:
    """Ordered faults; the first one that matches a request, still has count left and (for a fault with a
    probability below 1) draws a hit applies. Draws come from a generator seeded with `seed`, so a run's
    faults are reproducible."""

    def __init__(self, default_body, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._default_body = default_body   # status -> bytes, in the emulator's error format
        self._random = random.Random(seed)

    def add(self, status: Optional[int] = None, *, retry_after: Optional[float] = None, count: Optional[int] = 1,
            path_regex: Optional[str] = None, method: Optional[str] = None, delay_s: float = 0.0,
            reset: bool = False, body: Optional[bytes] = None,
            headers: Optional[list[tuple[str, str]]] = None, probability: float = 1.0) -> Fault:
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"fault probability {probability} is not in (0, 1]")
        f = Fault(status, retry_after, count, path_regex, method, delay_s, reset, body, list(headers or []),
                  probability)
        with self._lock:
            self._faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, req: Request) -> Optional[Fault]:
        with self._lock:
            for f in self._faults:
                if f.count is not None and f.hits >= f.count:
                    continue
                if f.method and f.method.upper() != req.method:
                    continue
                if f.path_regex and not re.search(f.path_regex, req.raw_path or req.path):
                    continue
                if f.probability < 1.0 and self._random.random() >= f.probability:
                    continue
                f.hits += 1
                return f
        return None

    def apply(self, req: Request) -> Optional[Response]:
        """Take the matching fault, wait its added latency, and return its answer (None: answer normally)."""
        f = self.take(req)
        if f is None:
            return None
        time.sleep(f.delay_s)
        return self.response(f)

    def response(self, f: Fault) -> Optional[Response]:
        """The answer a fault replaces the real one with; None if it only adds latency."""
        if f.reset:
            return Response(reset=True)
        if f.status is None:
            return None
        headers = [("Content-Type", "application/json; charset=utf-8")] + list(f.headers)
        if f.retry_after is not None:
            ra = f.retry_after
            headers.append(("Retry-After", str(int(ra)) if float(ra).is_integer() else str(ra)))
        body = f.body if f.body is not None else self._default_body(f.status)
        return Response(f.status, body, headers)


@dataclass
class LogEntry:
    t: float                    # time.monotonic() when the request arrived
    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0             # 0 = connection reset, no answer
    op: str = ""                # emulator-specific operation name (ARM: "PATCH vmss", ...)
    source: tuple[str, int] = ("", 0)   # the client's address and port: who reached the emulator

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


class RequestLog:
    """Every request an emulator saw, in arrival order."""

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def record(self, req: Request, op: str = "") -> LogEntry:
        e = LogEntry(time.monotonic(), req.method, req.path, req.raw_path, dict(req.query), dict(req.headers),
                     op=op, source=tuple(req.client[:2]))
        with self._lock:
            self._entries.append(e)
        return e

    def entries(self, path_regex: Optional[str] = None, op: Optional[str] = None,
                sources: Optional[set[str]] = None) -> list[LogEntry]:
        """Entries in arrival order; `sources`: only those from one of these client addresses."""
        with self._lock:
            out = list(self._entries)
        if path_regex:
            out = [e for e in out if re.search(path_regex, e.raw_path)]
        if op:
            out = [e for e in out if e.op == op]
        if sources is not None:
            out = [e for e in out if e.source[0] in sources]
        return out

    def gaps(self, path_regex: Optional[str] = None) -> list[float]:
        """Seconds between consecutive matching requests: the client's retry spacing."""
        ts = [e.t for e in self.entries(path_regex)]
        return [b - a for a, b in zip(ts, ts[1:])]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def json_bytes(obj) -> bytes:
    """Compact JSON, as Azure services write it (no spaces), so byte lengths match the reference."""
    return json.dumps(obj, separators=(",", ":")).encode()
