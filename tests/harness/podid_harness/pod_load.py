# SPDX-License-Identifier: Apache-2.0
"""Pods asking for tokens at a fixed rate (bench-pod-load, bench/pod_load.cpp), read as they go: the load of
the soak (bench/soak_bench.py) and of the kill and upgrade test (tests/e2e/agent/test_under_fire.py).

    load = PodLoad.start(pod, token_path(), rate=100, seconds=60, expect_client_id=ident.client_id)
    ...
    window = load.take()          # what the pod saw since the last take(): a Tally
    load.wait(); load.total       # the whole run, once the process has ended

A Tally counts requests sent, answers by kind ("200", or "<status> <IMDS error_description>"), requests with
no complete answer by kind (refused, closed_before_answer, cut_mid_answer, timeout, other), answers carrying
another identity (wrong_identity), answers not from podid-agent (not_from_agent), and a latency histogram
whose buckets are 2% wide (bucket b: [1.02^b, 1.02^(b+1)) us), so tallies of many pods merge exactly.

`documented_answer(kind)` says whether an answer is one docs/troubleshooting.md lists under "What a pod's SDK
can see": the soak allows no other.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .agent_runner import IMDS
from .paths import BUILD, REPO

LOAD = BUILD / "bench" / "bench-pod-load"
TROUBLESHOOTING = REPO / "docs" / "troubleshooting.md"
BUCKET_BASE = 1.02


@dataclass
class Tally:
    sent: int = 0
    answers: Counter = field(default_factory=Counter)
    transport: Counter = field(default_factory=Counter)
    wrong_identity: int = 0
    not_from_agent: int = 0
    latency: Counter = field(default_factory=Counter)   # bucket -> answers

    @classmethod
    def of(cls, d: dict) -> "Tally":
        return cls(d["sent"], Counter(d["answers"]), Counter(d["transport"]), d["wrong_identity"],
                   d["not_from_agent"], Counter({int(k): v for k, v in d["latency"].items()}))

    def add(self, other: "Tally") -> "Tally":
        self.sent += other.sent
        self.answers.update(other.answers)
        self.transport.update(other.transport)
        self.wrong_identity += other.wrong_identity
        self.not_from_agent += other.not_from_agent
        self.latency.update(other.latency)
        return self

    @property
    def answered(self) -> int:
        return sum(self.answers.values())

    @property
    def ok(self) -> int:
        """200s with the expected identity."""
        return self.answers["200"] - self.wrong_identity

    def percentile_us(self, p: float) -> Optional[float]:
        """The latency below which a share `p` of answers fell (the bucket's middle; within 2%)."""
        total = sum(self.latency.values())
        if total == 0:
            return None
        rank, seen = p * total, 0
        for bucket in sorted(self.latency):
            seen += self.latency[bucket]
            if seen >= rank:
                return BUCKET_BASE ** (bucket + 0.5)
        return BUCKET_BASE ** (max(self.latency) + 0.5)


class PodLoad:
    """One bench-pod-load process in a pod; a thread reads its lines as they come."""

    def __init__(self, proc: subprocess.Popen, name: str) -> None:
        self.proc, self.name = proc, name
        self._lock = threading.Lock()
        self._window = Tally()
        self.total: Optional[Tally] = None
        self.recoveries: list[tuple[int, int]] = []   # (t_ns of the first good 200, t_ns the failures began)
        self.garbage: list[str] = []                  # lines that were not the tool's JSON
        self._reader = threading.Thread(target=self._read, name=f"pod-load-{name}", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, pod, path: str, *, rate: float, seconds: float = 0, requests: int = 0, connections: int = 4,
              expect_client_id: str = "", requests_per_connection: int = 0, report_every: float = 1.0,
              timeout_ms: int = 10000, addr: str = IMDS, port: int = 80) -> "PodLoad":
        argv = [str(LOAD), "--addr", addr, "--port", str(port), "--path", path, "--header", "Metadata: true",
                "--rate", str(rate), "--connections", str(connections), "--report-every", str(report_every),
                "--timeout-ms", str(timeout_ms), "--requests-per-connection", str(requests_per_connection)]
        argv += ["--requests", str(requests)] if requests else ["--seconds", str(seconds)]
        if expect_client_id:
            argv += ["--expect-client-id", expect_client_id]
        proc = pod.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return cls(proc, f"{pod.namespace}/{pod.name}")

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                d = json.loads(line)
            except ValueError:
                self.garbage.append(line)
                continue
            with self._lock:
                if d.get("type") == "interval":
                    self._window.add(Tally.of(d))
                elif d.get("type") == "recovered":
                    self.recoveries.append((d["t_ns"], d["failed_since_ns"]))
                elif d.get("type") == "total":
                    self.total = Tally.of(d)

    def take(self) -> Tally:
        """What the pod reported since the last take()."""
        with self._lock:
            window, self._window = self._window, Tally()
        return window

    def wait(self, timeout: float = 30) -> Tally:
        """Waits for the process and its last line; returns the whole run's tally."""
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=5)
        if self.proc.returncode != 0 or self.total is None:
            raise RuntimeError(f"bench-pod-load in {self.name} exited {self.proc.returncode}: "
                               f"{self.proc.stderr.read()[-2000:]} {self.garbage[-3:]}")
        return self.total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


def documented_answers(doc: Path = TROUBLESHOOTING) -> list[tuple[str, list[str]]]:
    """(first cell, its `quoted` strings) of each row of the table of answers in docs/troubleshooting.md."""
    text = doc.read_text()
    section = text.split("## What a pod's SDK can see", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ---") and not line.startswith("| answer"):
            cell = line.split("|")[1]
            rows.append((cell, re.findall(r"`([^`]+)`", cell)))
    return rows


def documented_answer(kind: str, rows: Optional[list[tuple[str, list[str]]]] = None) -> bool:
    """Whether an answer kind ("429 Too many requests", "200") is one the docs list: its status opens a row
    and the row quotes the start of its description."""
    if kind == "200":
        return True
    status, _, description = kind.partition(" ")
    if len(description) < 12:   # too short to tell one answer from another
        return False
    for cell, quoted in rows if rows is not None else documented_answers():
        if re.match(rf"\s*{status}\b", cell) and any(
                len(q) >= 12 and (description.startswith(q) or q.startswith(description)) for q in quoted):
            return True
    return False


class LoadGroup:
    """Many pods' loads at once: windows summed, recoveries merged, stopped together."""

    def __init__(self, loads: list[PodLoad]) -> None:
        self.loads = loads

    def take(self) -> Tally:
        out = Tally()
        for load in self.loads:
            out.add(load.take())
        return out

    def recoveries(self) -> list[tuple[int, int]]:
        return sorted(r for load in self.loads for r in load.recoveries)

    def finish(self, timeout: float = 30, terminate: bool = True) -> Tally:
        """Ends every load (now, with SIGTERM: requests under way finish; or, with terminate=False, when they
        end by themselves) and returns their whole runs, summed."""
        for load in self.loads:
            if terminate and load.proc.poll() is None:
                load.proc.terminate()
        total = Tally()
        for load in self.loads:
            total.add(load.wait(timeout))
        return total

    def stop(self) -> None:
        for load in self.loads:
            load.stop()
