# SPDX-License-Identifier: Apache-2.0
"""The simulated node's cgroup tree on the real cgroup2 hierarchy, and processes placed in it."""
from __future__ import annotations

import os

import pytest

from podid_harness.sim import Node, find_cgroup2_mount
from podid_harness.sim import layout


@pytest.mark.parametrize("driver", layout.DRIVERS)
@pytest.mark.parametrize("runtime", layout.RUNTIMES)
def test_pod_cgroups_exist_with_the_kubelet_layout(root, driver, runtime):
    with Node.create(name="node-a", cgroup_driver=driver, runtime=runtime) as node:
        assert node.cgroup_root.parent == find_cgroup2_mount()
        assert node.cgroup_root.name.startswith(node.prefix + "-")
        assert node.kubepods_dir == node.cgroup_root / ("kubepods.slice" if driver == "systemd" else "kubepods")
        for qos in layout.QOS_CLASSES:
            pod = node.add_pod(f"pod-{qos}", qos=qos)
            expected = node.cgroup_root / layout.pod_cgroups(
                driver, runtime, qos, pod.uid, pod.container_id, pod.sandbox_id).container
            assert pod.container_cgroup_dir == expected
            assert pod.container_cgroup_dir.is_dir() and pod.pause_cgroup_dir.is_dir()
            assert pod.container_cgroup_dir.parent == pod.pod_cgroup_dir == pod.pause_cgroup_dir.parent
            assert pod.pod_cgroup_dir.is_relative_to(node.kubepods_dir)
            uid_in_path = pod.uid.replace("-", "_") if driver == "systemd" else pod.uid
            assert f"pod{uid_in_path}" in pod.pod_cgroup_dir.name
            siblings = sorted(p.name for p in pod.pod_cgroup_dir.iterdir() if p.is_dir())
            conmon = [f"crio-conmon-{pod.container_id}.scope"] if (driver, runtime) == ("systemd", "crio") else []
            assert siblings == sorted([pod.container_cgroup_dir.name, pod.pause_cgroup_dir.name] + conmon)


def test_cgroup_ids_are_the_directory_inodes(node):
    a, b = node.add_pod("pod-a"), node.add_pod("pod-b", qos="besteffort")
    assert a.cgroup_id() == os.stat(a.container_cgroup_dir).st_ino
    assert a.pod_cgroup_id() == os.stat(a.pod_cgroup_dir).st_ino
    assert len({a.cgroup_id(), a.pod_cgroup_id(), b.cgroup_id(), b.pod_cgroup_id()}) == 4


@pytest.mark.parametrize("qos", layout.QOS_CLASSES)
def test_a_pod_process_is_in_its_container_cgroup_from_the_start(node, qos):
    pod = node.add_pod("pod-a", qos=qos)
    # cat is exec'd directly, so what it reads is where it has been since its first instruction.
    r = pod.run(["cat", "/proc/self/cgroup"], check=True)
    assert f"0::{pod.cgroup_path()}" in r.stdout.splitlines()
    assert pod.cgroup_path().endswith(pod.container_id + (".scope" if node.cgroup_driver == "systemd" else ""))


def test_a_long_running_pod_process_is_listed_in_cgroup_procs(node):
    pod = node.add_pod("pod-a")
    p = pod.popen(["sleep", "30"])
    try:
        assert str(p.pid) in (pod.container_cgroup_dir / "cgroup.procs").read_text().split()
    finally:
        p.kill()
        p.wait()


def test_host_network_pod_has_its_own_cgroups_in_the_node_netns(node):
    pod = node.add_pod("pod-h", host_network=True)
    assert pod.netns == node.netns and pod.ip == node.bridge_ip
    r = pod.run(["sh", "-c", "cat /proc/self/cgroup; ip -4 -o addr show"], check=True)
    assert f"0::{pod.cgroup_path()}" in r.stdout
    assert f"inet {node.agent_addr}/32" in r.stdout     # imds0 is visible: this is the node's namespace


def test_node_processes_go_to_the_cgroup_asked_for(node):
    agent = node.make_cgroup("podid-agent")
    inside = node.make_cgroup("podid-probe", under_kubepods=True)
    assert agent.parent == node.cgroup_root and inside.parent == node.kubepods_dir
    mount = find_cgroup2_mount()
    for cg in (agent, inside):
        r = node.run(["cat", "/proc/self/cgroup"], cgroup=cg, check=True)
        assert f"0::/{cg.relative_to(mount)}" in r.stdout.splitlines()
    with open("/proc/self/cgroup") as f:
        ours = [line for line in f.read().splitlines() if line.startswith("0::")]
    assert node.run(["cat", "/proc/self/cgroup"], check=True).stdout.splitlines()[-1] == ours[0]
    with pytest.raises(ValueError):
        node.make_cgroup("../escape")
