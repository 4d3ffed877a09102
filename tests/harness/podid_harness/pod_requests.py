# SPDX-License-Identifier: Apache-2.0
"""Requests from inside a simulated pod to 169.254.169.254 (imds_client.py run in the pod's netns and container
cgroup with Debian's python) and their answers as tests read them: used by TokenCluster and the benches."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

import jwt

from .sim import Pod

PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).resolve().parent / "imds_client.py"
TOKEN_PATH = "/metadata/identity/oauth2/token"
VAULT = "https://vault.azure.net"
ARM_RESOURCE = "https://management.azure.com/"


@dataclass
class HttpResult:
    status: Optional[int]
    headers: dict = field(default_factory=dict)
    body: str = ""
    elapsed_ms: float = 0.0
    error: Optional[str] = None

    @classmethod
    def of(cls, d: dict) -> "HttpResult":
        return cls(d.get("status"), d.get("headers") or {}, d.get("body", ""), d.get("elapsed_ms", 0.0),
                   d.get("error"))

    def json(self) -> Any:
        return json.loads(self.body)

    def claims(self) -> dict:
        """The access token's claims (not verified: the test only asks whose token it is)."""
        return decode_jwt(self.json()["access_token"])

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:600]!r} {self.error or ''} ({self.elapsed_ms} ms)"


def decode_jwt(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def token_path(resource: str = VAULT, api_version: str = "2018-02-01", **selectors: str) -> str:
    q = {"api-version": api_version, "resource": resource}
    q.update({k: v for k, v in selectors.items() if v is not None})
    return TOKEN_PATH + "?" + urlencode(q)


class PodConnection:
    """One keep-alive connection from inside a pod to 169.254.169.254:80 (imds_client.py --interactive)."""

    def __init__(self, pod: Pod, cfg: Optional[dict] = None) -> None:
        self.pod = pod
        self.proc = pod.popen([PYTHON, str(CLIENT), "--interactive", json.dumps(cfg or {})],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if json.loads(ready or "{}") != {"ready": True}:
            raise RuntimeError(f"pod client did not start: {ready!r} {self.proc.stderr.read()}")

    def request(self, path: str, headers: Optional[dict] = None, method: str = "GET") -> HttpResult:
        self.proc.stdin.write(json.dumps({"path": path, "method": method,
                                          "headers": {"Metadata": "true"} if headers is None else headers}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"pod client died: {self.proc.stderr.read()}")
        return HttpResult.of(json.loads(line))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "PodConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
