# SPDX-License-Identifier: Apache-2.0
"""A watch as the bytes on the wire: one JSON event per line in a chunked response, BOOKMARKs on a timer when the
client asked for them (one right after the initial events, so clients can rely on seeing one), a clean end at
`timeoutSeconds`, and a cut connection when a test drops all watches."""
from __future__ import annotations

import json
import queue
import time
from typing import Callable, Iterator, Optional

from ..httpbase import StreamAborted
from .resources import ResourceType
from .store import Store, Watcher

Render = Callable[[str, dict], dict]


def event_line(typ: str, obj: dict) -> bytes:
    return json.dumps({"type": typ, "object": obj}, separators=(",", ":")).encode() + b"\n"


def stream(store: Store, w: Watcher, rt: ResourceType, render: Render, bookmarks: bool,
           bookmark_interval_s: float, timeout_s: Optional[float]) -> Iterator[bytes]:
    deadline = time.monotonic() + timeout_s if timeout_s else None
    next_bookmark = time.monotonic() + bookmark_interval_s
    try:
        if bookmarks:
            store.progress(w)
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if bookmarks and now >= next_bookmark:
                store.progress(w)
                next_bookmark = now + bookmark_interval_s
            wait = min(0.25, (deadline - now) if deadline is not None else 0.25)
            try:
                typ, obj = w.q.get(timeout=max(wait, 0.01))
            except queue.Empty:
                yield b""   # lets the server notice a client that hung up
                continue
            if typ == "DROP":
                raise StreamAborted()
            if typ == "END":
                return
            if typ == "BOOKMARK":
                yield event_line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                              "metadata": {"resourceVersion": str(obj)}})
                continue
            yield event_line(typ, render(typ, obj))
    finally:
        store.unwatch(w)


def error_stream(status: dict) -> Iterator[bytes]:
    """What the server sends for a watch it cannot start (a too old resourceVersion): 200, one ERROR event."""
    yield event_line("ERROR", status)
