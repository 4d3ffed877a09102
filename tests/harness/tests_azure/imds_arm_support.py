# SPDX-License-Identifier: Apache-2.0
"""A bare HTTP client for the IMDS and ARM emulator tests: no SDK in between, so what the emulator sends is what
the test sees (status, headers, body bytes)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(url: str, *, method: str = "GET", headers: dict | None = None, body=None) -> Reply:
    """A bare HTTP call (no SDK): what the emulator sends is what the test sees."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(url, method=method, data=data, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Reply(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers), e.read())
