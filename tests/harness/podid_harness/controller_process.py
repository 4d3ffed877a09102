# SPDX-License-Identifier: Apache-2.0
"""One podid-controller replica as a test runs it: the binary, its flags (FAST_ARGS: converge in seconds), its
log files, its ops endpoint (/healthz, /readyz, /metrics) and its memory figures from /proc."""
from __future__ import annotations

import signal
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .paths import BUILD
from .procfs import json_lines, status_kib

CONTROLLER = BUILD / "controller" / "podid-controller"


# Flags that make a test cluster converge in seconds rather than minutes; tests override any of them.
FAST_ARGS = {
    "--coalesce-window-ms": "300",
    "--arm-poll-interval-ms": "200",
    "--retry-initial-ms": "200",
    "--retry-max-ms": "3000",
    "--binding-event-window-ms": "500",
    "--leader-election-duration-s": "15",
    "--log-level": "debug",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ControllerProcess:
    """One podid-controller replica. Logs go to files under the cluster's tmp dir."""
    replica: int
    identity: str
    port: int
    args: list[str]
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 15) -> Optional[int]:
        """Signal this process (by pid) and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log(self) -> str:
        parts = []
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(x for x in parts if x)

    def lines(self) -> list[dict]:
        """The structured (JSON) log lines."""
        return json_lines(self.log())

    def http_get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except OSError as e:
            return 0, str(e)

    def rss_kib(self, field_name: str = "VmHWM") -> int:
        """VmHWM (peak) or VmRSS of the process, KiB, from /proc."""
        return status_kib(self.pid, field_name)
