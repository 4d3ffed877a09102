# SPDX-License-Identifier: Apache-2.0
"""Faults tests switch on at run time: fail the next N requests (optionally only those whose path matches a
regex) with 500 or 429 + Retry-After, hold every request for a while, and drop every open watch."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import ApiError


@dataclass
class _Failure:
    remaining: int
    status: int
    path: Optional[re.Pattern]
    retry_after: Optional[int]


class Faults:
    def __init__(self, drop_watches: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._paused_until = 0.0
        self._drop = drop_watches

    def fail_next(self, n: int = 1, status: int = 500, path_regex: Optional[str] = None,
                  retry_after: Optional[int] = None) -> None:
        """Answer the next `n` requests (matching `path_regex`, searched in path+query) with `status`."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.append(_Failure(n, status, re.compile(path_regex) if path_regex else None,
                                           retry_after))

    def pause(self, seconds: float) -> None:
        """Hold every request that arrives in the next `seconds` until they have passed."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def drop_watches(self) -> None:
        """Cut every open watch connection without the closing chunk, as an API server restart does."""
        self._drop()

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._paused_until = 0.0

    def before(self, raw_path: str) -> tuple[Optional[ApiError], list[tuple[str, str]]]:
        """Called for every request: waits out a pause, then returns an injected error and its headers."""
        with self._lock:
            wait = self._paused_until - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        with self._lock:
            for f in self._failures:
                if f.remaining > 0 and (f.path is None or f.path.search(raw_path)):
                    f.remaining -= 1
                    if f.remaining == 0:
                        self._failures.remove(f)
                    return self._error(f)
        return None, []

    @staticmethod
    def _error(f: _Failure) -> tuple[ApiError, list[tuple[str, str]]]:
        if f.status == 429:
            err = ApiError(429, "Too many requests, please try again later.", "TooManyRequests",
                           details={"retryAfterSeconds": f.retry_after})
        else:
            err = ApiError(f.status, "Internal error occurred: injected fault", None,
                           details={"causes": [{"message": "injected fault"}]})
        headers = [("Retry-After", str(f.retry_after))] if f.retry_after is not None else []
        return err, headers
