# SPDX-License-Identifier: Apache-2.0
"""podid-controller at the size of the clusters that need it (issue 15), on the emulators: PODID_SCALE_PODS pods
(50,000) over PODID_SCALE_NODES nodes (1,000) in PODID_SCALE_SETS scale sets (50), bound to PODID_SCALE_IDENTITIES
identities (200), created at PODID_SCALE_RATE pods a second (100; 0: all at once), on a fresh cluster with one
controller. Paced, the run asks whether the controller keeps up with a steady stream of pods at that size; all
at once, every pod's AzureAssignedIdentity waits for the writes before it, and how long that takes is the API
server's throughput (the stand-in, one Python process, takes a few hundred writes a second), not the
controller's.

Measured and printed (never enforced):
  memory     podid-controller's VmHWM (goal < 256 MiB);
  CPU        its CPU seconds (utime + stime from /proc) from the first pod to the last Assigned, per 1,000 pod
             events (each pod's creation, and the AzureAssignedIdentity events that follow from it);
  latency    per pod, from the later of its creation and its identity becoming effective on its scale set (the
             ARM update that added it completed) to its AzureAssignedIdentity Assigned (recorded by a hook in the
             API stand-in, not by polling); goal: every pod within 30 s;
  ARM        calls per scale set, and the most GETs and PATCHes per scale set in any coalescing window (goal: one
             of each);
  writes     the controller's Kubernetes writes per pod.
The controller runs with its defaults except --kube-api-qps / --kube-api-burst (PODID_SCALE_KUBE_QPS, 1,000, and
twice that): at its default 50 writes a second, 50,000 AAIs take 1,000 s to write whatever the controller does.
Every wait is bounded by PODID_SCALE_TIMEOUT_S (1,200). Runs under scripts/in-isolated-netns (`scripts/bench
controller-scale`). A quick run: PODID_SCALE_PODS=5000 PODID_SCALE_NODES=100 PODID_SCALE_SETS=5
PODID_SCALE_IDENTITIES=20.
"""
from __future__ import annotations

import bisect
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.controller_cluster import CONTROLLER, GROUP, NODE_RG, ControllerCluster  # noqa: E402

PODS = int(os.environ.get("PODID_SCALE_PODS", "50000"))
NODES = int(os.environ.get("PODID_SCALE_NODES", "1000"))
SCALE_SETS = int(os.environ.get("PODID_SCALE_SETS", "50"))
IDENTITIES = int(os.environ.get("PODID_SCALE_IDENTITIES", "200"))
KUBE_QPS = int(os.environ.get("PODID_SCALE_KUBE_QPS", "1000"))
RATE = float(os.environ.get("PODID_SCALE_RATE", "100"))
TIMEOUT = float(os.environ.get("PODID_SCALE_TIMEOUT_S", "1200"))
WINDOW_MS = 1000
NS = "scale"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else math.nan


def max_per_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window_s) - i for i, t in enumerate(times)), default=0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime, stime


class AssignedTimes:
    """When each AzureAssignedIdentity was first Assigned, from the stand-in's store (no list polling)."""

    def __init__(self, c: ControllerCluster) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()
        c.api.emulator.store.on_change.append(self._changed)

    def _changed(self, ch) -> None:
        if ch.gr != (GROUP, "azureassignedidentities") or ch.type == "DELETED":
            return
        if ((ch.obj.get("status") or {}).get("status")) == "Assigned":
            with self._lock:
                self.at.setdefault(ch.obj["metadata"]["name"], time.monotonic())

    def count(self) -> int:
        with self._lock:
            return len(self.at)


def main() -> int:
    if subprocess.run(["ip", "route", "get", "169.254.169.254"], capture_output=True).returncode == 0:
        print("controller_scale: 169.254.169.254 is routable here; run through scripts/bench controller-scale",
              file=sys.stderr)
        return 2
    if not CONTROLLER.exists():
        print(f"controller_scale: {CONTROLLER} is not built", file=sys.stderr)
        return 2
    per_set = NODES // SCALE_SETS
    with tempfile.TemporaryDirectory(prefix="podid-ctl-scale-") as tmp, \
            ControllerCluster(Path(tmp), history_window=4 * PODS) as c:
        t_setup = time.monotonic()
        nodes = []
        for s in range(SCALE_SETS):
            ss = c.add_scale_set(NODE_RG, f"aks-pool{s:02d}", nodes=per_set)
            nodes += [(n, ss) for n in ss.nodes]
        idents = []
        for i in range(IDENTITIES):
            ident = c.add_identity(NS, f"id-{i}")
            c.bind(NS, ident, f"sel-{i}")
            idents.append(ident)
        assigned = AssignedTimes(c)
        cp = c.start_controller("--coalesce-window-ms", str(WINDOW_MS), "--log-level", "info",
                                "--kube-api-qps", str(KUBE_QPS), "--kube-api-burst", str(2 * KUBE_QPS),
                                "--binding-event-window-ms", "30000", "--retry-initial-ms", "1000",
                                "--retry-max-ms", "300000", "--arm-poll-interval-ms", "5000")
        c.wait_leader(timeout=60)
        c.wait_ready(cp, timeout=120)
        print(f"controller scale: {PODS} pods over {len(nodes)} nodes in {SCALE_SETS} scale sets, {IDENTITIES} "
              f"identities (cluster and controller up in {time.monotonic() - t_setup:.0f} s)")
        cpu0 = cpu_seconds(cp.pid)
        writes0 = len(c.kube_writes())
        created: dict[str, float] = {}
        pods = []
        t0 = time.monotonic()
        hwm = 0
        for i in range(PODS):
            if RATE > 0:
                delay = t0 + i / RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if i % 1000 == 0:
                hwm = max(hwm, cp.rss_kib("VmHWM")) if cp.alive() else hwm
            node, ss = nodes[i % len(nodes)]
            ident = idents[(i * 7 + i // len(nodes)) % IDENTITIES]
            name = f"p{i}"
            c.add_pod(NS, name, node, selector=f"sel-{ident.name.split('-')[1]}")
            created[f"{name}-{NS}-{ident.name}"] = time.monotonic()
            pods.append((f"{name}-{NS}-{ident.name}", ss, ident))
        created_s = time.monotonic() - t0
        deadline = time.monotonic() + TIMEOUT
        while assigned.count() < PODS and time.monotonic() < deadline and cp.alive():
            hwm = max(hwm, cp.rss_kib("VmHWM"))
            time.sleep(2)
        t_all = time.monotonic() - t0
        if cp.alive():
            hwm = max(hwm, cp.rss_kib("VmHWM"))
            cpu = cpu_seconds(cp.pid) - cpu0
        else:
            cpu = math.nan
        writes = len(c.kube_writes()) - writes0

        # When each (scale set, identity) became effective: the first completed update that had it.
        effective: dict[tuple[str, str], float] = {}
        for t, rid, ids in c.arm.completed:
            for key in ids:
                effective.setdefault((rid.lower(), key), t)
        latencies, late = [], 0
        for name, ss, ident in pods:
            if name not in assigned.at:
                continue
            since = max(created[name], effective.get((ss.resource_id.lower(), ident.key), created[name]))
            latencies.append(assigned.at[name] - since)
            late += assigned.at[name] - since > 30
        window = WINDOW_MS / 1000
        sets = {ss.resource_id: ss for _, ss in nodes}.values()
        worst_get = max(max_per_window([e.t for e in c.arm_calls("GET vmss", ss)], window) for ss in sets)
        worst_patch = max(max_per_window([e.t for e in c.arm_calls("PATCH vmss", ss)], window) for ss in sets)
        arm = Counter(c.arm.counters)
        print(f"  pods created in {created_s:.0f} s ({'all at once' if RATE <= 0 else f'{RATE:g} a second'}); "
              f"{assigned.count()}/{PODS} Assigned {t_all:.0f} s after the first pod; podid-controller "
              f"{'EXITED ' + str(cp.proc.returncode) if not cp.alive() else 'running'}")
        print(f"  memory: VmHWM {hwm / 1024:.1f} MiB (goal < 256 MiB: {'met' if hwm < 256 * 1024 else 'NOT met'})")
        print(f"  CPU: {cpu:.1f} s for {PODS} pod events (and their AzureAssignedIdentities' own), "
              f"{1000 * cpu / PODS:.2f} s per 1,000 pod events")
        print(f"  Assigned after the pod's identity was on its scale set: p50 {pct(latencies, .5):.1f} s, p99 "
              f"{pct(latencies, .99):.1f} s, max {max(latencies, default=math.nan):.1f} s; over 30 s: {late} "
              f"(goal: none: {'met' if late == 0 and len(latencies) == PODS else 'NOT met'})")
        print(f"  ARM: {arm['GET vmss']} GET vmss, {arm['PATCH vmss']} PATCH vmss, {arm['GET operation']} polls for "
              f"{SCALE_SETS} scale sets; most in one {WINDOW_MS} ms window per scale set: {worst_get} GET, "
              f"{worst_patch} PATCH (goal 1 + 1: {'met' if worst_get <= 1 and worst_patch <= 1 else 'NOT met'})")
        print(f"  Kubernetes writes by the controller: {writes} ({writes / PODS:.2f} per pod; at "
              f"--kube-api-qps {KUBE_QPS})")
        if not cp.alive():
            print(cp.log()[-3000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
