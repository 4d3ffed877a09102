# SPDX-License-Identifier: Apache-2.0
"""Bounded polling for tests: wait until something holds, or fail naming what and why."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional


class WaitTimeout(AssertionError):
    pass


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.1,
             diagnose: Optional[Callable[[], str]] = None) -> Any:
    """Poll `pred` until it returns something truthy; raise WaitTimeout naming `what` (and diagnostics)."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            extra = diagnose() if diagnose else ""
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}\n{extra}")
        time.sleep(interval)


def poll_until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float,
               interval: float = 0.1) -> Any:
    """Call `fetch` until `done(value)` or `timeout`, and return the last value either way: for callers that
    assert on the value (an answer's status, the lines found) and so say more than a timeout would."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(interval)
