# SPDX-License-Identifier: Apache-2.0
"""What the harness reads about the processes it runs (podid-agent, podid-controller): their structured log
lines and their figures from /proc."""
from __future__ import annotations

import json
from pathlib import Path


def json_lines(text: str) -> list[dict]:
    """The structured (JSON object) lines of a log; anything else (a crash's stderr) is skipped."""
    out = []
    for raw in text.splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def status_kib(pid: int, field: str) -> int:
    """One KiB figure of /proc/<pid>/status: VmRSS (resident now) or VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"no {field} in /proc/{pid}/status")
