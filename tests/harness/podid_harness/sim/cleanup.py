# SPDX-License-Identifier: Apache-2.0
"""What a simulated node created, and the one teardown that removes it: on `with` exit, exception, atexit,
SIGTERM/SIGINT/SIGHUP, or `destroy` from the CLI (which reads the same record from a state file).

Every resource is recorded *before* it is created, so an interruption between the two still leaves a record,
and teardown tolerates what never came to exist. Teardown only touches names that carry the run's random
prefix and cgroups below the cgroup2 mount, so a corrupt or hostile state file cannot make it delete anything
else.
"""
from __future__ import annotations

import atexit
import re
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

from . import cgroups, proc

PREFIX_RE = re.compile(r"^pdt[0-9a-f]{6}$")


def new_prefix() -> str:
    """The per-run name prefix: parallel runs on one machine never share a netns, link or cgroup name."""
    return "pdt" + secrets.token_hex(3)


class CleanupError(RuntimeError):
    """Teardown left something behind; the message lists what."""


class Ledger:
    def __init__(self, prefix: str):
        if not PREFIX_RE.match(prefix):
            raise ValueError(f"prefix must look like pdt<6 hex>, not {prefix!r}")
        self.prefix = prefix
        self.netns: list[str] = []
        self.cgroups: list[str] = []
        self.pids: list[tuple[int, Optional[int]]] = []     # (pid, start time): process-group leaders we started
        self._popens: list[subprocess.Popen] = []
        self._lock = threading.RLock()                       # re-entrant: a signal may arrive inside teardown

    # --- recording -------------------------------------------------------------------------------------------
    def add_netns(self, name: str) -> str:
        self._check_name(name)
        with self._lock:
            self.netns.append(name)
        return name

    def add_cgroup(self, path: Path) -> Path:
        self._check_cgroup(path)
        with self._lock:
            self.cgroups.append(str(path))
        return path

    def add_process(self, popen: subprocess.Popen, in_our_cgroup: bool) -> subprocess.Popen:
        """Track a process we started. One placed in a recorded cgroup dies with the cgroup (forks included),
        so only its Popen is kept, to be reaped; others are also killed by process group."""
        with self._lock:
            # Forget Popens already reaped, so a benchmark's thousands of short runs do not pile up.
            self._popens = [p for p in self._popens if p.poll() is None]
            self._popens.append(popen)
            if not in_our_cgroup:
                self.pids.append((popen.pid, proc.start_time(popen.pid)))
        return popen

    def remove_netns(self, name: str) -> list[str]:
        """Delete one recorded namespace now (a removed pod's) and forget it."""
        problems = _delete_netns(name)
        with self._lock:
            if not problems and name in self.netns:
                self.netns.remove(name)
        return problems

    # --- the state file --------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"prefix": self.prefix, "netns": list(self.netns), "cgroups": list(self.cgroups),
                "pids": [list(p) for p in self.pids]}

    @classmethod
    def from_dict(cls, d: dict) -> "Ledger":
        ledger = cls(d["prefix"])
        for name in d.get("netns", []):
            ledger.add_netns(name)
        for path in d.get("cgroups", []):
            ledger.add_cgroup(Path(path))
        ledger.pids = [(int(p), None if s is None else int(s)) for p, s in d.get("pids", [])]
        return ledger

    # --- teardown --------------------------------------------------------------------------------------------
    def teardown(self) -> list[str]:
        """Remove everything recorded, processes first; idempotent. Returns what could not be removed."""
        problems: list[str] = []
        with self._lock:
            pids, self.pids = self.pids, []
            popens, self._popens = self._popens, []
            groups, self.cgroups = self.cgroups, []
            names, self.netns = self.netns, []
        for pid, started in pids:
            proc.kill_group(pid, started)
        for path in groups:                  # everything running in our cgroups, before waiting on any of it
            cgroups.kill_subtree(Path(path))
        for p in popens:
            try:
                p.wait(timeout=5)            # reap, so no zombie of ours outlives the node
            except subprocess.TimeoutExpired:
                problems.append(f"process {p.pid} did not exit after SIGKILL")
        # Deepest first: a cgroup is only removable once its children are.
        for path in sorted(groups, key=lambda p: -len(Path(p).parts)):
            problems += cgroups.remove_tree(Path(path))
        for name in reversed(names):         # pods before their node
            problems += _delete_netns(name)
        return problems + self._sweep()

    def _sweep(self) -> list[str]:
        """Remove anything else named with this prefix: what an interrupted step created but never recorded in
        a state file. The prefix is random per node and was checked unused at creation, so it is ours."""
        problems: list[str] = []
        mount = cgroups.find_cgroup2_mount()
        for entry in sorted(mount.iterdir()):
            if entry.name.startswith(self.prefix + "-") and entry.is_dir():
                problems += cgroups.remove_tree(entry)
        netns_dir = Path(proc.NETNS_DIR)
        for entry in sorted(netns_dir.iterdir() if netns_dir.is_dir() else [], reverse=True):
            if entry.name.startswith(self.prefix + "-"):
                problems += _delete_netns(entry.name)
        return problems

    # --- guards ----------------------------------------------------------------------------------------------
    def _check_name(self, name: str) -> None:
        if not name.startswith(self.prefix + "-") or "/" in name:
            raise ValueError(f"{name!r} does not carry this run's prefix {self.prefix!r}")

    def _check_cgroup(self, path: Path) -> None:
        mount = cgroups.find_cgroup2_mount()
        rel = Path(path).relative_to(mount)      # ValueError when outside the hierarchy
        if not rel.parts or not rel.parts[0].startswith(self.prefix) or ".." in rel.parts:
            raise ValueError(f"cgroup {path} is not under {mount}/{self.prefix}*")


def _delete_netns(name: str) -> list[str]:
    if not Path(proc.netns_path(name)).exists():
        return []
    # Deleting a namespace deletes every link in it: the bridge, the veths and the dummy never exist elsewhere.
    r = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True)
    if r.returncode != 0 and Path(proc.netns_path(name)).exists():
        return [f"netns {name}: {r.stderr.strip()}"]
    return []


# --- last-resort cleanup for the whole Python process ------------------------------------------------------------
_live: list[Ledger] = []
_handled_signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_previous: dict[int, object] = {}


def register(ledger: Ledger) -> None:
    """Tear ledger down at interpreter exit or on a terminating signal, unless released first."""
    _live.append(ledger)
    _install_handlers()


def release(ledger: Ledger) -> None:
    if ledger in _live:
        _live.remove(ledger)


def teardown_all() -> None:
    while _live:
        ledger = _live.pop()
        for problem in ledger.teardown():
            print(f"podid sim cleanup: {problem}", file=sys.stderr)


def _on_signal(signum, frame) -> None:
    teardown_all()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)                  # SIGINT: Python's handler raises KeyboardInterrupt
        return
    if previous == signal.SIG_IGN:
        return
    # Default action (terminate): die of the same signal, so the parent sees the real cause.
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _install_handlers() -> None:
    if _previous or threading.current_thread() is not threading.main_thread():
        return      # handlers can only be set from the main thread; atexit and `with` still cover the rest
    for sig in _handled_signals:
        _previous[sig] = signal.getsignal(sig)
        if _previous[sig] != signal.SIG_IGN:
            signal.signal(sig, _on_signal)


atexit.register(teardown_all)
