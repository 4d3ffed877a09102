# SPDX-License-Identifier: Apache-2.0
"""Nothing the simulation creates outlives it: not after success, an exception, a failed step, a removed pod,
or SIGTERM/SIGINT to the process that made it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from podid_harness.sim import Node
from podid_harness.sim import netns as sim_netns
from podid_harness.sim.proc import start_time

from conftest import leftovers

HARNESS = str(Path(__file__).resolve().parents[1])


def _populate(node: Node) -> list[tuple[int, int]]:
    """Pods of every kind plus processes left running; returns (pid, start time) of those processes."""
    a = node.add_pod("pod-a")
    node.add_pod("pod-h", host_network=True, qos="guaranteed")
    agent = node.make_cgroup("podid-agent")
    started = [a.popen(["sleep", "1000"]),
               a.popen(["sh", "-c", "sleep 1000 & sleep 1000"]),   # a fork the harness never saw
               node.popen(["sleep", "1000"], cgroup=agent),
               node.popen(["sleep", "1000"])]                       # outside every cgroup of ours
    return [(p.pid, start_time(p.pid)) for p in started]


def _all_dead(procs) -> bool:
    return all(start_time(pid) != started for pid, started in procs)


def test_everything_is_removed_after_the_with_block(root):
    with Node.create(name="node-a") as node:
        procs = _populate(node)
        assert leftovers(node.prefix)
    assert leftovers(node.prefix) == []
    assert _all_dead(procs)


def test_everything_is_removed_after_an_exception_and_the_exception_survives(root):
    with pytest.raises(KeyError, match="boom"):
        with Node.create(name="node-a", network="azure-cni", cgroup_driver="cgroupfs") as node:
            procs = _populate(node)
            raise KeyError("boom")
    assert leftovers(node.prefix) == []
    assert _all_dead(procs)


def test_remove_pod_removes_only_that_pod(node):
    a, b = node.add_pod("pod-a"), node.add_pod("pod-b")
    p = a.popen(["sleep", "1000"])
    node.remove_pod(a)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert not a.pod_cgroup_dir.exists() and not Path("/run/netns", a.netns).exists()
    assert a.host_link not in sim_netns.links(node.netns)
    assert b.container_cgroup_dir.is_dir() and b.host_link in sim_netns.links(node.netns)
    assert (node.kubepods_dir / "kubepods-burstable.slice").is_dir()    # the QoS slice stays, as on a node
    assert node.pods == {("default", "pod-b"): b}


def test_a_failed_pod_leaves_nothing_behind(node, monkeypatch):
    def broken(*args, **kwargs):
        raise sim_netns.NetError("simulated failure")
    monkeypatch.setattr(sim_netns, "add_pod", broken)
    with pytest.raises(sim_netns.NetError):
        node.add_pod("pod-a")
    assert not any(name.startswith(node.netns + "-") for name in sim_netns.names())
    qos_slice = node.kubepods_dir / "kubepods-burstable.slice"
    assert [p for p in qos_slice.iterdir() if p.is_dir()] == []
    assert node.pods == {}


def test_bad_arguments_create_nothing(root):
    before = sim_netns.names()
    for bad in ({"agent_addr": "not-an-ip"}, {"network": "flannel"}, {"name": "Node_A"},
                {"pod_cidr": "10.0.0.0/31"}):
        with pytest.raises(ValueError):
            Node.create(**bad)
    assert sim_netns.names() == before


def test_names_outside_the_run_prefix_are_refused(node):
    with pytest.raises(ValueError):
        node.ledger.add_netns("default")
    with pytest.raises(ValueError):
        node.ledger.add_cgroup(Path("/sys/fs/cgroup/system.slice"))


SCRIPT = textwrap.dedent("""
    import sys, time
    from podid_harness.sim import Node
    node = Node.create(name="node-a")
    pod = node.add_pod("pod-a")
    pod.popen(["sleep", "1000"])
    node.popen(["sleep", "1000"])
    print(node.prefix, flush=True)
    with node:
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_terminating_signal_cleans_up(root, sig):
    env = dict(os.environ, PYTHONPATH=HARNESS)
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    prefix = p.stdout.readline().strip()
    assert prefix.startswith("pdt"), p.stderr.read()
    assert leftovers(prefix)
    p.send_signal(sig)
    p.wait(timeout=20)
    assert p.returncode == -sig         # dies of the signal (SIGINT: Python re-raises it after KeyboardInterrupt)
    assert leftovers(prefix) == []
