# SPDX-License-Identifier: Apache-2.0
"""podid's demo on simulated pods: two pods on one simulated node call 169.254.169.254; the kernel sends
both to podid-agent, which tells from the kernel which pod each connection came from. A UDP and a raw-socket
attempt at the same address are refused. Everything lives in network namespaces with no route off this
machine, and is removed at the end. Run through scripts/demo (root)."""
from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import IMDS, Agent, free_port, probe  # noqa: E402
from podid_harness.sim import Node  # noqa: E402


def show(title: str, result: dict) -> None:
    print(f"  {title:<44} ", end="")
    if result.get("status") == 200:
        body = result["body"]
        print(f"HTTP 200 from podid-agent: cgroup {body['cgroup_id']}\n{'':48}{body['cgroup_path']}")
    elif result.get("status"):
        print(f"HTTP {result['status']}: {result.get('body')}")
    else:
        print(f"refused by the kernel: {result.get('errno_name')} at {result.get('stage')}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="podid-demo-") as tmp, Node.create(name="demo-node") as node:
        pod_a = node.add_pod("web", namespace="shop", qos="burstable")
        pod_b = node.add_pod("batch", namespace="reports", qos="guaranteed")
        agent = Agent(node, Path(tmp), f"podid-demo-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr),
                      node.make_cgroup("podid-agent", under_kubepods=True))
        try:
            serving = agent.start()
            print(f"podid-agent attached to {serving['attach_cgroup']}")
            print(f"  and serving redirected connections on {serving['redirect']}\n")
            for pod in (pod_a, pod_b):
                print(f"pod {pod.namespace}/{pod.name}  (cgroup {pod.cgroup_id()})")
                show(f"TCP connect to {IMDS}:80", probe(pod, "tcp4"))
                show(f"TCP to [::ffff:{IMDS}]:80 (IPv6 socket)", probe(pod, "tcp6-mapped"))
                show(f"UDP sendto {IMDS}:80", probe(pod, "udp-sendto"))
                show(f"raw IP socket to {IMDS} (with NET_RAW)", probe(pod, "raw", cap_net_raw=True))
                print()
            print("audit log of the refusals (podid-agent stderr):")
            for line in agent.lines():
                if line.get("msg") == "denied":
                    print(f"  {line['reason']:<18} {line['hook']:<9} {line['destination']:<22} {line['cgroup_path']}")
        finally:
            agent.kill()
            agent.uninstall()
    print("\ncleaned up: node, pods, cgroups and pins removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
