# SPDX-License-Identifier: Apache-2.0
"""What podid's kernel programs cost, measured side by side: four simulated kubenet nodes on this machine, each
in one state, measured in turn in short blocks, in alternating order, round after round. Each round gives
paired ratios (this shared machine's speed drifts over seconds; within a round of a few seconds it mostly does
not), and no node is reconfigured between rounds, so nothing but the programs differs between the pairs.

  nodes (each with its own fabric, listener, bulk sink and client pods)
    full     podid-agent with every program: cgroup programs and the frame hooks (pre-routing, pod interfaces,
             uplink)
    nohooks  podid-agent with --host-hooks off: the cgroup programs only
    dnat     aad-pod-identity's mechanism: its iptables nat DNAT rule sending 169.254.169.254:80 to an agent
             listener (podid's programs attached, IMDS not a target)
    none     nothing attached

  figures
    A  redirected connections/s, pod -> 169.254.169.254:80 -> agent (full)
    B  DNAT-ed connections/s, the same requests (dnat)
    E, C, D  connections/s, pod -> a listener in the fabric, through the node (full, nohooks, none)
    Eb, Cb, Db  bulk MB/s, pod -> a sink in the fabric (full, nohooks, none)

Each connection: socket, connect, one HTTP request, the response, close; each node's pods take turns, so no
client's ports run short. The collapse the issue saw after ~25,000 connections (rates from ~8,000/s to a few
hundred) came from the old bench sending DNAT-ed and redirected connections from one pod to one agent port: the
DNAT's connection-tracking entries (120 s in TIME_WAIT) met the next redirected connection's tuple and its SYN
was dropped (SYN retransmits climbing round after round; with the same alternation and no DNAT, none). Not the
agent's. Here the two never share a node.

Reported: for each ratio, the median of the per-round ratios and the 95% confidence interval of that median
(order statistics). Rounds go on until the goal ratios' intervals are narrower than +-1.5% (so that the 3% goal
is resolved) or PODID_BENCH_MAX_ROUNDS / PODID_BENCH_MAX_MINUTES is reached; the output says which. There is no
pass or fail. Run as root through scripts/bench redirect.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import BUILD, IMDS, PROBE, Agent, free_port  # noqa: E402
from podid_harness.sim import Node  # noqa: E402

CONNECTIONS = int(os.environ.get("PODID_BENCH_CONNECTIONS", "1000"))
BULK_MIB = int(os.environ.get("PODID_BENCH_BULK_MIB", "128"))
MIN_ROUNDS = int(os.environ.get("PODID_BENCH_MIN_ROUNDS", "15"))
MAX_ROUNDS = int(os.environ.get("PODID_BENCH_MAX_ROUNDS", "200"))
MAX_MINUTES = float(os.environ.get("PODID_BENCH_MAX_MINUTES", "20"))
TARGET_HALF_WIDTH = 0.015
LISTENER = BUILD / "bench" / "bench-listener"
FABRIC_SERVICE = "10.224.7.7"
NO_IMDS_TARGETS = ["--target", "deny:tcp:192.0.2.1:80"]  # programs attached, IMDS not a target (TEST-NET-1)

SINK = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16); print("ready", flush=True)
buf = bytearray(1 << 20)
while True:
    c, _ = s.accept()
    while c.recv_into(buf):
        pass
    c.sendall(b"done"); c.close()
'''

SENDER = r'''
import json, socket, sys, time
addr, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = b"\0" * (1 << 20)
t = time.monotonic()
s = socket.create_connection((addr, port))
for _ in range(mib):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
assert s.recv(4) == b"done"
print(json.dumps({"mb_per_second": mib * 1.048576 / (time.monotonic() - t)}))
'''

RATIOS = [  # name, numerator, denominator, what it means, a cost (reported as q - 1), a goal (rounds go on for it)
    ("podid redirect / aad-pod-identity DNAT", "A", "B", "connections/s, >= 1 is as fast or faster", False, False),
    ("frame hooks' cost, connections", "C", "E", "pod -> fabric, nohooks/full - 1 (goal < 3%)", True, True),
    ("frame hooks' cost, bulk", "Cb", "Eb", "pod -> fabric, nohooks/full - 1 (goal < 3%)", True, True),
    ("cgroup programs' cost, connections", "D", "C", "pod -> fabric, none/nohooks - 1", True, False),
    ("all of podid, connections", "D", "E", "pod -> fabric, none/full - 1", True, False),
    ("all of podid, bulk", "Db", "Eb", "pod -> fabric, none/full - 1", True, False),
]


def cps(pod, addr: str, port: int, path: str) -> float:
    out = pod.run([str(PROBE), "tcp4", "--addr", addr, "--port", str(port), "--path", path,
                   "--repeat", str(CONNECTIONS)], timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["failed"]:
        raise RuntimeError(f"{r['failed']} of {CONNECTIONS} connections failed: {r}")
    return r["per_second"]


def bulk(pod, port: int) -> float:
    out = pod.run(["/usr/bin/python3", "-c", SENDER, FABRIC_SERVICE, str(port), str(BULK_MIB)], timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"bulk sender failed: {out.stderr}")
    return json.loads(out.stdout)["mb_per_second"]


def dnat(node: Node, agent_port: int, add: bool) -> None:
    # aad-pod-identity's rule (reference/aad-pod-identity.md §1.10), in the node's namespace.
    op = "-A" if add else "-D"
    node.run(["iptables", "-t", "nat", op, "aad-metadata", "!", "-s", "127.0.0.1/32", "-d", f"{IMDS}/32", "-p",
              "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", f"{node.agent_addr}:{agent_port}"],
             check=True)


def median_ci(values: list[float]) -> tuple[float, float, float]:
    """Median and its 95% confidence interval by order statistics (no assumption on the distribution)."""
    v = sorted(values)
    n = len(v)
    half = 0.98 * math.sqrt(n)
    lo = max(0, math.floor(n / 2 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return statistics.median(v), v[lo], v[hi]


class BenchNode:
    """One node in one state, with what its measurements need."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path, state: str):
        self.state = state
        self.node = stack.enter_context(Node.create(name=f"bench-{state}"))
        node = self.node
        self.pods = [node.add_pod(f"client-{i}") for i in range(2)]
        node.add_fabric_address(f"{FABRIC_SERVICE}/32")
        self.lport = free_port(node, node.agent_addr)
        self.sport = self.lport + 1 if self.lport < 65000 else self.lport - 1
        listener = node.fabric_popen([str(LISTENER), FABRIC_SERVICE, str(self.lport)], stdout=subprocess.PIPE,
                                     text=True)
        sink = node.fabric_popen(["/usr/bin/python3", "-c", SINK, FABRIC_SERVICE, str(self.sport)],
                                 stdout=subprocess.PIPE, text=True)
        assert listener.stdout.readline().strip() == "ready" and sink.stdout.readline().strip() == "ready"
        # aad-pod-identity's chain on every node (empty but on the dnat one): each node's namespace then tracks
        # connections alike, as a node where kube-proxy runs does.
        node.run(["iptables", "-t", "nat", "-N", "aad-metadata"], check=True)
        node.run(["iptables", "-t", "nat", "-A", "PREROUTING", "-j", "aad-metadata"], check=True)
        self.agent = None
        if state != "none":
            extra = {"full": [], "nohooks": ["--host-hooks", "off"],
                     "dnat": [*NO_IMDS_TARGETS, "--host-hooks", "off"]}[state]
            cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
            self.agent = Agent(node, tmp, f"podid-bench-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr),
                               cgroup, extra=extra)
            stack.callback(self._stop_agent)
            self.agent.start()
        if state == "dnat":
            dnat(node, self.agent.port, add=True)

    def _stop_agent(self) -> None:
        self.agent.kill()
        self.agent.uninstall()

    def measure(self, r: int, figures: dict[str, list[float]]) -> None:
        pod = self.pods[r % 2]
        if self.state == "full":
            figures["A"].append(cps(pod, IMDS, 80, "/podid/v1/whoami"))
            figures["E"].append(cps(pod, FABRIC_SERVICE, self.lport, "/"))
            figures["Eb"].append(bulk(pod, self.sport))
        elif self.state == "nohooks":
            figures["C"].append(cps(pod, FABRIC_SERVICE, self.lport, "/"))
            figures["Cb"].append(bulk(pod, self.sport))
        elif self.state == "dnat":
            figures["B"].append(cps(pod, IMDS, 80, "/podid/v1/whoami"))
        else:
            figures["D"].append(cps(pod, FABRIC_SERVICE, self.lport, "/"))
            figures["Db"].append(bulk(pod, self.sport))


def main() -> int:
    if os.geteuid() != 0:
        print("bench: run as root", file=sys.stderr)
        return 1
    figures: dict[str, list[float]] = {k: [] for k in ("A", "B", "C", "D", "E", "Cb", "Db", "Eb")}
    ratios: dict[str, list[float]] = {name: [] for name, *_ in RATIOS}
    started = time.monotonic()
    stop_reason = f"{MAX_ROUNDS} rounds"
    with tempfile.TemporaryDirectory(prefix="podid-bench-") as tmp, contextlib.ExitStack() as stack:
        nodes = [BenchNode(stack, Path(tmp), state) for state in ("full", "nohooks", "dnat", "none")]
        for r in range(MAX_ROUNDS):
            for n in (nodes if r % 2 == 0 else list(reversed(nodes))):
                n.measure(r, figures)
            for name, num, den, _, cost, _ in RATIOS:
                q = figures[num][-1] / figures[den][-1]
                ratios[name].append(q - 1 if cost else q)
            print(f"round {r + 1}: " + ", ".join(f"{k}={v[-1]:.0f}" for k, v in figures.items()), flush=True)
            widths = [(median_ci(ratios[name])[2] - median_ci(ratios[name])[1]) / 2
                      for name, *_, goal in RATIOS if goal]
            if r + 1 >= MIN_ROUNDS and max(widths) < TARGET_HALF_WIDTH:
                stop_reason = f"the goal ratios' 95% intervals within +-{TARGET_HALF_WIDTH:.1%}"
                break
            if time.monotonic() - started > MAX_MINUTES * 60:
                stop_reason = f"the {MAX_MINUTES:g} minute limit (intervals still wider than the goal)"
                break

    rounds = len(figures["E"])
    print(f"\n{rounds} rounds ({stop_reason}); {CONNECTIONS} short connections and {BULK_MIB} MiB per figure and "
          f"round, nodes in alternating order")
    print("\nfigures, median (range):")
    for k, v in figures.items():
        unit = "MB/s" if k.endswith("b") else "conn/s"
        print(f"  {k:<3} {statistics.median(v):9.0f} {unit:<6} ({min(v):.0f}..{max(v):.0f})")
    print("\npaired per-round ratios, median [95% interval of the median]:")
    for name, num, den, meaning, cost, _ in RATIOS:
        med, lo, hi = median_ci(ratios[name])
        shown = (f"{med:+.2%} [{lo:+.2%} .. {hi:+.2%}]" if cost else f"{med:.3f} [{lo:.3f} .. {hi:.3f}]")
        print(f"  {name:<40} {shown:<28} {num}/{den}: {meaning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
