# SPDX-License-Identifier: Apache-2.0
"""What a server process spends, measured from outside it: CPU time (every thread of every process given) from
/proc/PID/task/TID/schedstat, in nanoseconds, and a perf profile by function.

CPU time per request is the figure that does not depend on who saturates on a 2-core machine where the load
generator competes with the server: a server that answers as fast as the client asks, spending half the CPU of
another, shows the same throughput and half the cost.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (nginx: the master and its workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def cpu_ns(pids: Iterable[int]) -> int:
    """Nanoseconds on a CPU so far, summed over every thread of `pids` (schedstat's first field)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
    return total


class CpuMeter:
    """with CpuMeter(pids) as m: ...; m.ns is the CPU time the processes spent inside the block."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)
        self.ns = 0

    def __enter__(self) -> "CpuMeter":
        self._start = cpu_ns(self.pids)
        return self

    def __exit__(self, *exc) -> None:
        self.ns = cpu_ns(self.pids) - self._start


def perf_available() -> bool:
    try:
        return subprocess.run(["perf", "--version"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def start_profile(pids: Iterable[int], out: Path, seconds: float) -> subprocess.Popen:
    """perf record at 2,999 Hz of `pids` for `seconds` (the caller runs the load meanwhile, then waits)."""
    return subprocess.Popen(["perf", "record", "-q", "-F", "2999", "-p", ",".join(map(str, pids)), "-o", str(out),
                             "--", "sleep", f"{seconds:g}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_summary(data: Path, top: int = 12) -> str:
    """Where the time went: the share of kernel, the server's binary and each library, then the `top` kernel
    functions and the `top` user-space functions by their own samples (the server's own work is the latter),
    names shortened to what a reader needs (template arguments dropped)."""
    def report(sort: str) -> list[tuple[float, str]]:
        out = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort, "--stdio",
                              "-g", "none"], capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "%" not in line.split()[0]:
                continue
            share, _, name = line.partition(" ")
            rows.append((float(share.rstrip("%")), name.strip()))
        return rows

    lines = ["    by object: " + ", ".join(f"{name} {share:.1f}%" for share, name in report("dso")[:5])]
    symbols = report("symbol")
    for title, pick in (("kernel", lambda n: n.startswith("[k]")), ("user space", lambda n: not n.startswith("[k]"))):
        lines.append(f"    top {title} functions:")
        for share, name in [s for s in symbols if pick(s[1])][:top]:
            lines.append(f"    {share:5.1f}%  {shorten(name).strip()}")
    return "\n".join(lines)


def shorten(symbol: str) -> str:
    """'[.] boost::beast::http::serializer<false, ...>::next<...>' -> '[.] boost::beast::http::serializer<>::next<>'."""
    out, depth = [], 0
    for ch in symbol:
        if ch == "<":
            if depth == 0:
                out.append("<")
            depth += 1
        elif ch == ">":
            depth -= 1
            if depth == 0:
                out.append(">")
        elif depth == 0:
            out.append(ch)
    return "".join(out)[:110]
