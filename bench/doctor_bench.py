# SPDX-License-Identifier: Apache-2.0
"""`podid doctor` on a large cluster (issue 18: "under 10 s on a 1,000-node cluster with 200 identities, bounded
ARM calls"), on the emulators.

  Cluster: PODID_BENCH_NODES nodes (1,000) in PODID_BENCH_SCALE_SETS scale sets (10), each with a Ready agent
     pod; PODID_BENCH_IDENTITIES identities (200), each with a binding and PODID_BENCH_PODS_PER_IDENTITY pods
     (15) spread over the nodes, every pod's AzureAssignedIdentity Assigned; the controller's roles granted.
  ARM: every request delayed by PODID_BENCH_ARM_LATENCY_MS (100), about what ARM takes from inside Azure.
  Runs, side by side on the same cluster: doctor with --arm-concurrency PODID_BENCH_CONCURRENCY (16, the
     default) and with 1 (sequential), PODID_BENCH_ROUNDS times (3) each, alternating; and doctor without Azure.
Printed: the median wall time of each, the ratio, the ARM calls by operation (the emulator's counters) against
the bound (one GET per identity, one permissions call per identity and per scale set), and the goal line
(under 10 s, printed, never enforced).

Runs the servers on 127.0.0.1 only, and only where 169.254.169.254 is unreachable: `scripts/bench doctor` runs
it under scripts/in-isolated-netns. A quick run: PODID_BENCH_NODES=100 PODID_BENCH_IDENTITIES=20."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.controller_cluster import (AAI, BUILD, GROUP, NODE_RG, ControllerCluster,  # noqa: E402
                                              CONTROLLER_NS)

NODES = int(os.environ.get("PODID_BENCH_NODES", "1000"))
SCALE_SETS = int(os.environ.get("PODID_BENCH_SCALE_SETS", "10"))
IDENTITIES = int(os.environ.get("PODID_BENCH_IDENTITIES", "200"))
PODS_PER_IDENTITY = int(os.environ.get("PODID_BENCH_PODS_PER_IDENTITY", "15"))
LATENCY_MS = float(os.environ.get("PODID_BENCH_ARM_LATENCY_MS", "100"))
CONCURRENCY = int(os.environ.get("PODID_BENCH_CONCURRENCY", "16"))
ROUNDS = int(os.environ.get("PODID_BENCH_ROUNDS", "3"))
PODID = BUILD / "cli" / "podid"
NS = "bench"


def build(c: ControllerCluster) -> list[str]:
    nodes = []
    per_set = max(1, NODES // SCALE_SETS)
    for s in range(SCALE_SETS):
        ss = c.add_scale_set(NODE_RG, f"aks-pool{s}-vmss", nodes=per_set)
        nodes += ss.nodes
    for node in nodes:
        c.api.create_pod({"metadata": {"name": f"podid-agent-{node}", "namespace": CONTROLLER_NS,
                                       "labels": {"app.kubernetes.io/name": "podid",
                                                  "app.kubernetes.io/component": "agent"}},
                          "spec": {"nodeName": node, "containers": [{"name": "agent", "image": "podid"}]},
                          "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    for i in range(IDENTITIES):
        ident = c.add_identity(NS, f"id-{i}")
        binding = c.bind(NS, ident, selector=f"app-{i}")
        identity_obj = c.identity_cr(ident)
        for p in range(PODS_PER_IDENTITY):
            node = nodes[(i * PODS_PER_IDENTITY + p) % len(nodes)]
            pod = c.add_pod(NS, f"app-{i}-{p}", node, selector=f"app-{i}")
            c.api.create({"apiVersion": f"{GROUP}/v1", "kind": "AzureAssignedIdentity",
                          "metadata": {"name": c.aai_name(pod, ident), "namespace": "default"},
                          "spec": {"pod": pod.name, "podNamespace": NS, "nodename": node,
                                   "azureIdentityRef": identity_obj, "azureBindingRef": binding},
                          "status": {"status": "Assigned", "availableReplicas": 1}})
    return nodes


def doctor(c: ControllerCluster, kubeconfig: str, *extra: str) -> tuple[float, dict]:
    cmd = [str(PODID), "doctor", "-o", "json", "--kubeconfig", kubeconfig, *extra]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=c.controller_env())
    took = time.monotonic() - start
    if p.returncode != 0:
        raise RuntimeError(f"doctor exited {p.returncode}: {p.stdout[-2000:]} {p.stderr[-2000:]}")
    return took, json.loads(p.stdout)


def main() -> int:
    if not PODID.exists():
        print(f"{PODID} is not built", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="podid-doctor-bench-") as tmp, ControllerCluster(Path(tmp)) as c:
        t0 = time.monotonic()
        build(c)
        print(f"cluster: {NODES} nodes in {SCALE_SETS} scale sets, {IDENTITIES} identities, "
              f"{IDENTITIES * PODS_PER_IDENTITY} bound pods, {NODES} agent pods (built in {time.monotonic() - t0:.1f} s)")
        kubeconfig = c.api.kubeconfig(Path(tmp) / "admin.kubeconfig")
        azure = ["--cloud-config", str(c.cloud_config), "--azure-ca-file", c.ca.bundle_path]
        c.arm.faults.add(delay_s=LATENCY_MS / 1000, count=None)
        cluster_only, concurrent, sequential = [], [], []
        calls = None
        for _ in range(ROUNDS):
            cluster_only.append(doctor(c, kubeconfig)[0])
            before = dict(c.arm.counters)
            took, report = doctor(c, kubeconfig, *azure, "--arm-concurrency", str(CONCURRENCY))
            concurrent.append(took)
            calls = {op: c.arm.counters[op] - before.get(op, 0) for op in ("GET identity", "GET permissions")}
            assert report["arm"]["calls"] == calls, (report["arm"]["calls"], calls)
            sequential.append(doctor(c, kubeconfig, *azure, "--arm-concurrency", "1")[0])
        bound = {"GET identity": IDENTITIES, "GET permissions": IDENTITIES + SCALE_SETS}
        med = statistics.median
        print(f"ARM latency {LATENCY_MS:.0f} ms per call (injected); medians of {ROUNDS} rounds:")
        print(f"  doctor, cluster only:                {med(cluster_only):6.2f} s")
        print(f"  doctor + ARM, {CONCURRENCY:2d} calls in flight:   {med(concurrent):6.2f} s")
        print(f"  doctor + ARM, sequential:            {med(sequential):6.2f} s   "
              f"({med(sequential) / med(concurrent):.1f}x the concurrent run)")
        print(f"  ARM calls per run: {calls} (bound {bound}: "
              f"{'within' if all(calls[k] <= bound[k] for k in bound) else 'OVER'})")
        print(f"goal: under 10 s on {NODES} nodes with {IDENTITIES} identities: "
              f"{'met' if med(concurrent) < 10 else 'NOT met'} ({med(concurrent):.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
