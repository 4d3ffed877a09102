# SPDX-License-Identifier: Apache-2.0
"""podid-controller under pod churn, on the emulators, against a model of the predecessor's MIC run on the same
event trace (issue 7, "Figures for the note").

  Churn: PODID_BENCH_PODS pods (1,000) over PODID_BENCH_NODES nodes (100) in PODID_BENCH_SCALE_SETS scale sets
     (5) bound to PODID_BENCH_IDENTITIES identities (20), created at PODID_BENCH_RATE pods/s (100; 0 = all at
     once), then, once every pod's AzureAssignedIdentity is Assigned, deleted at the same rate until every
     identity is off every scale set. Counted: ARM calls by operation (the emulator's own counters), API writes
     by the controller (the API stand-in's request log), time from the first pod to the last Assigned, and per
     pod creation -> Assigned (sampled every PODID_BENCH_POLL_S, 0.2 s).
  Model: aad-pod-identity's MIC (reference/aad-pod-identity.md §2.3-2.9) on the same trace: one full cycle per
     pod event; per scale set with AAIs to create or delete in that cycle, one GET, and ceil(delta/150) PATCHes
     (each polled to completion as the emulator answers: PODID_BENCH_LRO_POLLS InProgress polls + the final one)
     when the delta is not empty; per AAI, POST + status patch (Assigned) + a "binding applied" event on
     create, status patch (Unassigned) + DELETE + finalizer PUT + a "binding removed" event on delete; plus the
     3-minute reconcile loop's GET per scale set holding AAIs over the same wall-clock time. The model makes
     no failed calls (no throttling, no retries), so it is a lower bound for MIC.
  Memory: PODID_BENCH_RSS_PODS pods (10,000; 0 skips) created at once on the same cluster; podid-controller's
     VmHWM once they are all Assigned, or after PODID_BENCH_RSS_TIMEOUT_S (600) with the count reached.

Goal lines (printed, never enforced): at most one GET and one PATCH per scale set per coalescing window
(PODID_BENCH_WINDOW_MS, 1000, the controller's default), at least 10x fewer ARM calls than the model, controller
memory under 64 MiB with 10,000 pods. Every wait is bounded by PODID_BENCH_TIMEOUT_S (300).

Runs the servers on 127.0.0.1 only, and only where 169.254.169.254 is unreachable: `scripts/bench controller`
runs it under scripts/in-isolated-netns. A quick run: PODID_BENCH_PODS=100 PODID_BENCH_NODES=10
PODID_BENCH_RSS_PODS=0.
"""
from __future__ import annotations

import bisect
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.controller_cluster import (AAI, CONTROLLER, NODE_RG, ControllerCluster,  # noqa: E402
                                              parse_samples)

PODS = int(os.environ.get("PODID_BENCH_PODS", "1000"))
NODES = int(os.environ.get("PODID_BENCH_NODES", "100"))
SCALE_SETS = int(os.environ.get("PODID_BENCH_SCALE_SETS", "5"))
IDENTITIES = int(os.environ.get("PODID_BENCH_IDENTITIES", "20"))
RATE = float(os.environ.get("PODID_BENCH_RATE", "100"))
WINDOW_MS = int(os.environ.get("PODID_BENCH_WINDOW_MS", "1000"))
LRO_POLLS = int(os.environ.get("PODID_BENCH_LRO_POLLS", "1"))
RSS_PODS = int(os.environ.get("PODID_BENCH_RSS_PODS", "10000"))
RSS_TIMEOUT = float(os.environ.get("PODID_BENCH_RSS_TIMEOUT_S", "600"))
TIMEOUT = float(os.environ.get("PODID_BENCH_TIMEOUT_S", "300"))
POLL = float(os.environ.get("PODID_BENCH_POLL_S", "0.2"))
CONTROLLER_ARGS = os.environ.get("PODID_BENCH_CONTROLLER_ARGS", "").split()
EVENT_WINDOW_S = 30   # the controller's default --binding-event-window-ms
NS = "bench"
MIC_RECONCILE_S = 180
MIC_PATCH_LIMIT = 150


# ---- the trace --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchPod:
    name: str
    node: str
    scale_set: str
    identity: int


def make_trace(nodes: list[tuple[str, str]], count: int, prefix: str, seed: int) -> list[BenchPod]:
    """`count` pods spread evenly over nodes and identities, in a shuffled (seeded) order."""
    pods = []
    for i in range(count):
        node, ss = nodes[i % len(nodes)]
        pods.append(BenchPod(f"{prefix}-{i}", node, ss, (i * 7 + i // len(nodes)) % IDENTITIES))
    random.Random(seed).shuffle(pods)
    return pods


# ---- the predecessor, as a model ----------------------------------------------------------------------------------
@dataclass
class MicModel:
    """MIC's algorithm on an event trace: counts only, no time (reference §2.3-2.9)."""
    lro_polls: int
    arm: Counter = field(default_factory=Counter)
    kube: Counter = field(default_factory=Counter)
    cycles: int = 0
    _pods: dict[str, BenchPod] = field(default_factory=dict)     # desired: pods that exist
    _aais: dict[str, BenchPod] = field(default_factory=dict)     # AAIs that exist (all Assigned once created)
    _on: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))   # scale set -> identities

    def event(self, kind: str, pod: BenchPod) -> None:
        if kind == "add":
            self._pods[pod.name] = pod
        else:
            self._pods.pop(pod.name, None)
        self._cycle()

    def _cycle(self) -> None:
        """One full Sync cycle (§2.4): diff desired vs existing AAIs, then per scale set one updateUserMSI."""
        self.cycles += 1
        creates = [p for n, p in self._pods.items() if n not in self._aais]
        deletes = [p for n, p in self._aais.items() if n not in self._pods]
        per_ss: dict[str, tuple[list[BenchPod], list[BenchPod]]] = defaultdict(lambda: ([], []))
        for p in creates:
            per_ss[p.scale_set][0].append(p)
        for p in deletes:
            per_ss[p.scale_set][1].append(p)
        for ss, (add_pods, del_pods) in per_ss.items():
            self.kube["AAI create (POST)"] += len(add_pods)                  # §2.6 step 1
            add = {p.identity for p in add_pods}
            in_use = {p.identity for p in self._pods.values() if p.scale_set == ss}
            remove = {p.identity for p in del_pods} - in_use                # shouldRemoveID (§2.7)
            if add or remove:
                self.arm["GET vmss"] += 1                                     # §2.6 step 2
                delta = (add - self._on[ss]) | (remove & self._on[ss])
                if delta:
                    patches = math.ceil(len(delta) / MIC_PATCH_LIMIT)
                    self.arm["PATCH vmss"] += patches
                    self.arm["GET operation"] += patches * (self.lro_polls + 1)
                    self._on[ss] = (self._on[ss] | add) - remove
            self.kube["AAI status (Assigned)"] += len(add_pods)             # §2.6 step 3
            self.kube["event binding applied"] += len(add_pods)
            self.kube["AAI status (Unassigned)"] += len(del_pods)
            self.kube["AAI DELETE"] += len(del_pods)
            self.kube["AAI finalizer PUT"] += len(del_pods)
            self.kube["event binding removed"] += len(del_pods)
            for p in add_pods:
                self._aais[p.name] = p
            for p in del_pods:
                self._aais.pop(p.name, None)

    def reconcile_loop(self, seconds: float, scale_sets_with_aais: int) -> None:
        """§2.9: one GET per scale set holding AAIs every 3 minutes."""
        self.arm["GET vmss (reconcile loop)"] += int(seconds // MIC_RECONCILE_S) * scale_sets_with_aais


# ---- measuring podid --------------------------------------------------------------------------------------------
def assigned_names(c: ControllerCluster) -> set[str]:
    return {o["metadata"]["name"] for o in c.api.list(AAI, namespace="default")
            if (o.get("status") or {}).get("status") == "Assigned"}


def aai_name(p: BenchPod, ident_names: list[str]) -> str:
    return f"{p.name}-{NS}-{ident_names[p.identity]}"


def paced(pods: list[BenchPod], rate: float, action) -> dict[str, float]:
    """Run `action(pod)` for each pod at `rate` per second (0: as fast as possible); when each ran."""
    t0, when = time.monotonic(), {}
    for i, p in enumerate(pods):
        if rate > 0:
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        action(p)
        when[p.name] = time.monotonic()
    return when


def wait_all(pred, timeout: float, what: str, interval: float = POLL) -> float:
    """Poll until pred() is true or timeout; returns when it became true (or inf)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(interval)
    print(f"  (bounded wait: {what} not reached after {timeout:g}s)")
    return math.inf


def max_per_window(times: list[float], window_s: float) -> int:
    """Most calls inside any half-open interval [t, t + window) (t one of the calls)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window_s) - i for i, t in enumerate(times)), default=0)


def kube_write_kinds(c: ControllerCluster) -> Counter:
    out: Counter = Counter()
    for e in c.kube_writes():
        res = e.get("resource") or "?"
        sub = e.get("subresource")
        out[f"{e['verb']} {res}{'/' + sub if sub else ''}"] += 1
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else math.nan


def churn(c: ControllerCluster, nodes: list[tuple[str, str]], ident_names: list[str]) -> dict:
    trace = make_trace(nodes, PODS, "churn", seed=1)
    names = {p.name: aai_name(p, ident_names) for p in trace}
    arm0, kube0 = Counter(c.arm.counters), kube_write_kinds(c)
    t_start = time.monotonic()
    created = paced(trace, RATE, lambda p: c.add_pod(NS, p.name, p.node, selector=f"sel-{p.identity}"))
    first_assigned: dict[str, float] = {}

    def all_assigned() -> bool:
        now, done = time.monotonic(), assigned_names(c)
        for p in trace:
            if names[p.name] in done and p.name not in first_assigned:
                first_assigned[p.name] = now
        return len(first_assigned) == len(trace)

    t_all = wait_all(all_assigned, TIMEOUT, f"all {PODS} Assigned")
    latencies = [first_assigned[p.name] - created[p.name] for p in trace if p.name in first_assigned]
    t_del = time.monotonic()
    paced(trace, RATE, lambda p: c.api.delete_pod(NS, p.name))
    t_gone = wait_all(lambda: not c.api.list(AAI, namespace="default") and
                      not any(c.cloud.assigned_ids(ss.resource_id) for ss in c.scale_sets.values()),
                      TIMEOUT, "every AAI deleted and every identity removed")
    t_end = time.monotonic()
    # "binding applied" / "binding removed" Events go out once per binding per window: count those too.
    time.sleep(EVENT_WINDOW_S + 2)
    reasons = Counter(e.get("reason") for e in c.events())
    arm = Counter(c.arm.counters)
    arm.subtract(arm0)
    kube = kube_write_kinds(c)
    kube.subtract(kube0)

    model = MicModel(LRO_POLLS)
    for p in trace:
        model.event("add", p)
    for p in trace:
        model.event("del", p)
    model.reconcile_loop(t_end - t_start, len(c.scale_sets))

    window = WINDOW_MS / 1000
    per_window = {}
    for ss in c.scale_sets.values():
        per_window[ss.name] = tuple(max_per_window([e.t for e in c.arm_calls(op, ss) if e.t >= t_start], window)
                                    for op in ("GET vmss", "PATCH vmss"))
    return {"arm": +arm, "kube": +kube, "model": model, "t_all": t_all - t_start, "t_gone": t_gone - t_del,
            "latencies": latencies, "assigned": len(first_assigned), "per_window": per_window,
            "elapsed": t_end - t_start, "event_reasons": reasons}


def memory(c: ControllerCluster, nodes: list[tuple[str, str]], ident_names: list[str]) -> dict:
    cp = c.controllers[0]
    before = cp.rss_kib("VmRSS")
    trace = make_trace(nodes, RSS_PODS, "mem", seed=2)
    want = {aai_name(p, ident_names) for p in trace}
    t0 = time.monotonic()
    for p in trace:
        c.add_pod(NS, p.name, p.node, selector=f"sel-{p.identity}")
    created_s = time.monotonic() - t0
    got, peak, rss = 0, 0, 0

    def done() -> bool:
        nonlocal got, peak, rss
        try:   # sampled while waiting: a process that dies leaves no /proc status to read afterwards
            peak, rss = max(peak, cp.rss_kib("VmHWM")), cp.rss_kib("VmRSS")
        except (KeyError, OSError):
            pass
        if not cp.alive():
            return True
        got = len(want & assigned_names(c))
        return got == len(want)

    # Listing 10,000 objects from the in-process API stand-in competes with it for the GIL: poll gently.
    t_all = wait_all(done, RSS_TIMEOUT, f"{RSS_PODS} Assigned", interval=max(POLL, 2.0))
    return {"rss_before_kib": before, "hwm_kib": peak, "rss_kib": rss, "assigned": got, "t_all": t_all - t0,
            "created_s": created_s, "exited": None if cp.alive() else cp.proc.returncode}


# ---- printing -----------------------------------------------------------------------------------------------------
def ratio(model: float, podid: float) -> str:
    if podid == 0:
        return "inf" if model else "-"
    return f"{model / podid:.1f}x"


def report_churn(r: dict) -> None:
    arm, model = r["arm"], r["model"]
    print(f"\ncontroller churn: {PODS} pods over {NODES} nodes in {SCALE_SETS} scale sets, {IDENTITIES} identities; "
          f"created then deleted at {RATE:g}/s ({'burst' if RATE <= 0 else 'paced'}); coalescing window "
          f"{WINDOW_MS} ms; LRO {LRO_POLLS} InProgress poll(s)")
    print(f"{'ARM calls':34}{'podid':>10}{'MIC model':>12}{'model/podid':>14}")
    ops = sorted(set(arm) | {k for k in model.arm})
    for op in ops:
        print(f"  {op:32}{arm.get(op, 0):>10}{model.arm.get(op, 0):>12}{ratio(model.arm.get(op, 0), arm.get(op, 0)):>14}")
    arm_total, model_total = sum(arm.values()), sum(model.arm.values())
    print(f"  {'total':32}{arm_total:>10}{model_total:>12}{ratio(model_total, arm_total):>14}")
    print(f"{'API writes (podid, by request)':34}{'podid':>10}")
    for k, v in sorted(r["kube"].items()):
        print(f"  {k:32}{v:>10}")
    podid_aai = sum(v for k, v in r["kube"].items() if "azureassignedidentities" in k)
    podid_events = sum(v for k, v in r["kube"].items() if k.split(" ")[1].startswith("events"))
    podid_other = sum(r["kube"].values()) - podid_aai - podid_events
    m_aai = sum(v for k, v in model.kube.items() if k.startswith("AAI"))
    m_ev = sum(v for k, v in model.kube.items() if k.startswith("event"))
    print("  events by reason (objects): " + ", ".join(f"{k} {v}" for k, v in sorted(r["event_reasons"].items())))
    print(f"{'API writes, compared':34}{'podid':>10}{'MIC model':>12}{'model/podid':>14}")
    print(f"  {'AzureAssignedIdentity writes':32}{podid_aai:>10}{m_aai:>12}{ratio(m_aai, podid_aai):>14}")
    print(f"  {'events':32}{podid_events:>10}{m_ev:>12}{ratio(m_ev, podid_events):>14}")
    print(f"  {'other (ledger, lease, ...)':32}{podid_other:>10}{0:>12}")
    total_p, total_m = podid_aai + podid_events + podid_other, m_aai + m_ev
    print(f"  {'total':32}{total_p:>10}{total_m:>12}{ratio(total_m, total_p):>14}")
    print(f"MIC model: {model.cycles} cycles (one per pod event); at client-go QPS 5 its {total_m} API writes alone "
          f"take >= {total_m / 5:.0f} s")
    lat = r["latencies"]
    print(f"podid: every pod Assigned {r['t_all']:.1f} s after the first pod ({r['assigned']}/{PODS}); per pod "
          f"creation -> Assigned p50 {pct(lat, .5):.2f} s, p99 {pct(lat, .99):.2f} s, max {max(lat, default=math.nan):.2f} s "
          f"(sampled every {POLL:g} s); all removed {r['t_gone']:.1f} s after the first delete")
    worst_get = max((g for g, _ in r["per_window"].values()), default=0)
    worst_patch = max((p for _, p in r["per_window"].values()), default=0)
    print("per scale set, most calls in any coalescing window (GET, PATCH): " +
          ", ".join(f"{k} {g}/{p}" for k, (g, p) in sorted(r["per_window"].items())))
    print(f"goal: <= 1 GET + 1 PATCH per scale set per window: {'met' if worst_get <= 1 and worst_patch <= 1 else 'NOT met'} "
          f"(worst {worst_get} GET, {worst_patch} PATCH)")
    print(f"goal: >= 10x fewer ARM calls than the model: {ratio(model_total, arm_total)} "
          f"({'met' if arm_total and model_total / arm_total >= 10 else 'NOT met'})")


def report_memory(m: dict) -> None:
    hwm = m["hwm_kib"] / 1024
    print(f"\nmemory: {RSS_PODS} pods created in {m['created_s']:.1f} s; {m['assigned']}/{RSS_PODS} Assigned after "
          f"{m['t_all']:.1f} s; podid-controller VmRSS {m['rss_before_kib'] / 1024:.1f} MiB before (with the churn "
          f"phase behind it), VmHWM {hwm:.1f} MiB, VmRSS {m['rss_kib'] / 1024:.1f} MiB after")
    if m["exited"] is not None:
        print(f"podid-controller EXITED ({m['exited']}) during the memory phase; VmHWM is the last sample")
    print(f"goal: controller memory < 64 MiB with {RSS_PODS} pods: {'met' if hwm < 64 else 'NOT met'} "
          f"(VmHWM {hwm:.1f} MiB{', not all Assigned' if m['assigned'] < RSS_PODS else ''})")


def routable(addr: str) -> bool:
    return subprocess.run(["ip", "route", "get", addr], capture_output=True).returncode == 0


def main() -> int:
    if routable("169.254.169.254"):
        print("controller_churn: 169.254.169.254 is routable here; run through scripts/bench controller (an isolated "
              "network namespace)", file=sys.stderr)
        return 2
    if not CONTROLLER.exists():
        print(f"controller_churn: {CONTROLLER} is not built", file=sys.stderr)
        return 2
    if NODES % SCALE_SETS:
        print("controller_churn: PODID_BENCH_NODES must be a multiple of PODID_BENCH_SCALE_SETS", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="podid-ctl-bench-") as tmp, \
            ControllerCluster(Path(tmp), history_window=max(100000, 8 * (PODS + RSS_PODS))) as c:
        per_ss = NODES // SCALE_SETS
        nodes = []
        for s in range(SCALE_SETS):
            ss = c.add_scale_set(NODE_RG, f"aks-pool{s}", nodes=per_ss)
            nodes += [(n, ss.name) for n in ss.nodes]
        ident_names = []
        for i in range(IDENTITIES):
            ident = c.add_identity(NS, f"id-{i}")
            c.bind(NS, ident, f"sel-{i}")
            ident_names.append(ident.name)
        # The controller's defaults for what is counted (the harness's fast settings shorten the Event window and
        # the retries), except what the run is about; it starts on a quiet cluster.
        cp = c.start_controller("--coalesce-window-ms", str(WINDOW_MS),
                                "--binding-event-window-ms", str(EVENT_WINDOW_S * 1000),
                                "--log-level", "info", *CONTROLLER_ARGS)
        c.wait_leader(timeout=60)
        c.wait_ready(cp, timeout=60)
        r = churn(c, nodes, ident_names)
        report_churn(r)
        text = c.metrics()
        throttled = sum(v for _, v in parse_samples(text, "podid_controller_arm_throttled_total"))
        waited = sum(v for _, v in parse_samples(text, "podid_controller_kube_write_wait_seconds_total"))
        print(f"podid-controller metrics: arm_throttled_total {throttled:g}; Kubernetes writes waited {waited:.0f} s "
              f"in all for the client-side limit (--kube-api-qps); Entra token requests {len(c.entra.token_log)}")
        if RSS_PODS > 0:
            report_memory(memory(c, nodes, ident_names))
        if not cp.alive():
            print(f"podid-controller exited {cp.proc.returncode}; log tail:\n{cp.log()[-3000:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
