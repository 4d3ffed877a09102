# SPDX-License-Identifier: Apache-2.0
"""The request path of an emulator that has a FaultPlan and a RequestLog (faults.py): log the request, answer
with the first matching fault if there is one, else serve it; record the status. IMDS and ARM inline the same
steps and could call this too."""
from __future__ import annotations

import time
from typing import Callable

from ..httpbase import Request, Response
from .faults import FaultPlan, RequestLog


def answer(faults: FaultPlan, log: RequestLog, req: Request, serve: Callable[[Request], Response]) -> Response:
    entry = log.record(req)
    fault = faults.take(req)
    resp = None
    if fault is not None:
        time.sleep(fault.delay_s)      # a latency-only fault then serves normally
        resp = faults.response(fault)
    if resp is None:
        resp = serve(req)
    entry.status = 0 if resp.reset else resp.status
    return resp
