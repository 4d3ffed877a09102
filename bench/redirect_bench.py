# SPDX-License-Identifier: Apache-2.0
"""Short connections per second from a simulated pod, measured side by side in one run (rounds interleaved,
medians reported, because these machines are noisy):

  A. podid: connect(169.254.169.254:80) rewritten by cgroup/connect4, ending at podid-agent
  B. aad-pod-identity's mechanism: the same connect DNAT-ed by its iptables nat rule in the node's
     namespace, ending at the same podid-agent listener (programs attached, IMDS not a target)
  C. a connection that is not redirected (pod -> a plain listener on the node), with podid's programs
     attached, against D. the same with nothing attached

Each connection: socket, connect, one HTTP request, the response, close. Prints figures and ratios; there
is no pass or fail. Run as root through scripts/bench.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import BUILD, IMDS, PROBE, Agent, free_port  # noqa: E402
from podid_harness.sim import Node  # noqa: E402

CONNECTIONS = int(os.environ.get("PODID_BENCH_CONNECTIONS", "2000"))
ROUNDS = int(os.environ.get("PODID_BENCH_ROUNDS", "5"))
LISTENER = BUILD / "bench" / "bench-listener"
NO_IMDS_TARGETS = ["--target", "deny:tcp:192.0.2.1:80"]  # programs attached, IMDS not a target (TEST-NET-1)


def rate(pod, addr: str, port: int, path: str = "/podid/v1/whoami") -> float:
    out = pod.run([str(PROBE), "tcp4", "--addr", addr, "--port", str(port), "--path", path,
                   "--repeat", str(CONNECTIONS)], timeout=300)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["failed"]:
        raise RuntimeError(f"{r['failed']} of {CONNECTIONS} connections failed: {r}")
    return r["per_second"]


def dnat(node: Node, agent_port: int, add: bool) -> None:
    # aad-pod-identity's rules (reference/aad-pod-identity.md §1.10), in the node's namespace.
    op = "-A" if add else "-D"
    if add:
        node.run(["iptables", "-t", "nat", "-N", "aad-metadata"], check=True)
        node.run(["iptables", "-t", "nat", "-A", "PREROUTING", "-j", "aad-metadata"], check=True)
    node.run(["iptables", "-t", "nat", op, "aad-metadata", "!", "-s", "127.0.0.1/32", "-d", f"{IMDS}/32", "-p",
              "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", f"{node.agent_addr}:{agent_port}"], check=True)


def main() -> int:
    if os.geteuid() != 0:
        print("bench: run as root", file=sys.stderr)
        return 1
    results: dict[str, list[float]] = {"A_redirect": [], "B_dnat": [], "C_other_attached": [], "D_other_detached": []}
    with tempfile.TemporaryDirectory(prefix="podid-bench-") as tmp, Node.create(name="bench") as node:
        pod = node.add_pod("client")
        cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
        agent = Agent(node, Path(tmp), f"podid-bench-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr), cgroup)
        lport = free_port(node, node.bridge_ip)
        listener = node.popen([str(LISTENER), node.bridge_ip, str(lport)], stdout=subprocess.PIPE, text=True)
        assert listener.stdout.readline().strip() == "ready"
        dnat(node, agent.port, add=True)
        try:
            for r in range(ROUNDS):
                agent.extra = []
                agent.start()
                results["A_redirect"].append(rate(pod, IMDS, 80))
                results["C_other_attached"].append(rate(pod, node.bridge_ip, lport, "/"))
                agent.kill()
                agent.extra = NO_IMDS_TARGETS
                agent.start()
                results["B_dnat"].append(rate(pod, IMDS, 80))
                agent.kill()
                agent.uninstall()
                results["D_other_detached"].append(rate(pod, node.bridge_ip, lport, "/"))
                print(f"round {r + 1}/{ROUNDS}: " + ", ".join(f"{k}={v[-1]:.0f}/s" for k, v in results.items()),
                      flush=True)
        finally:
            agent.kill()
            agent.uninstall()
            dnat(node, agent.port, add=False)
            listener.kill()
            listener.wait()

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{CONNECTIONS} short connections x {ROUNDS} interleaved rounds, medians (connections/s):")
    for k, v in med.items():
        spread = f"{min(results[k]):.0f}..{max(results[k]):.0f}"
        print(f"  {k:<18} {v:9.0f}   (range {spread})")
    print("\nratios:")
    print(f"  podid redirect / aad-pod-identity DNAT     = {med['A_redirect'] / med['B_dnat']:.3f}"
          "   (goal: >= 1.0)")
    added = (med['D_other_detached'] / med['C_other_attached'] - 1.0) * 100
    print(f"  cost added to a non-redirected connection  = {added:+.2f}% of its time   (goal: < 3%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
