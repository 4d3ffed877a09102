# SPDX-License-Identifier: Apache-2.0
"""Commands run in a pod see the pod's network and containerd's capabilities, and run() behaves like
subprocess.run()."""
from __future__ import annotations

import subprocess
import time

import pytest

from podid_harness.sim import CONTAINERD_CAPS

# Bit numbers from linux/capability.h.
CAP_BITS = {"chown": 0, "dac_override": 1, "fowner": 3, "fsetid": 4, "kill": 5, "setgid": 6, "setuid": 7,
            "setpcap": 8, "net_bind_service": 10, "net_admin": 12, "net_raw": 13, "sys_chroot": 18,
            "sys_ptrace": 19, "sys_admin": 21, "mknod": 27, "audit_write": 29, "setfcap": 31, "bpf": 39,
            "perfmon": 38}


def caps_of(status: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines() if line.startswith("Cap")}


def mask(names) -> int:
    return sum(1 << CAP_BITS[n] for n in names)


@pytest.mark.parametrize("net_raw", [True, False])
def test_pod_processes_get_containerds_capabilities(node, net_raw):
    pod = node.add_pod("pod-a")
    caps = caps_of(pod.run(["cat", "/proc/self/status"], cap_net_raw=net_raw, check=True).stdout)
    expected = mask(c for c in CONTAINERD_CAPS if net_raw or c != "net_raw")
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == expected
    for forbidden in ("sys_admin", "net_admin", "bpf", "perfmon", "sys_ptrace"):
        assert not caps["CapEff"] & mask([forbidden]), forbidden
    assert bool(caps["CapEff"] & mask(["net_raw"])) is net_raw


def test_a_pod_cannot_change_its_network(node):
    # (Its cgroup it could change: there is no read-only cgroupfs mount here, see README "What it does not do".)
    pod = node.add_pod("pod-a")
    r = pod.run(["ip", "link", "add", "x0", "type", "bridge"])
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    r = pod.run(["ip", "route", "add", "1.1.1.1/32", "dev", "eth0"])
    assert r.returncode != 0 and "Operation not permitted" in r.stderr


def test_node_processes_keep_full_root_capabilities(node):
    caps = caps_of(node.run(["cat", "/proc/self/status"], check=True).stdout)
    assert caps["CapEff"] & mask(["sys_admin", "net_admin", "bpf"]) == mask(["sys_admin", "net_admin", "bpf"])


def test_pod_process_sees_the_pod_ip_and_nothing_of_the_host(node):
    pod = node.add_pod("pod-a")
    r = pod.run(["ip", "-4", "-o", "addr", "show"], check=True)
    assert f"inet {pod.ip}/24" in r.stdout
    assert node.agent_addr not in r.stdout
    names = pod.run(["cat", "/proc/self/net/dev"], check=True).stdout
    assert sorted(line.split(":")[0].strip() for line in names.splitlines()[2:]) == ["eth0", "lo"]


def test_run_has_subprocess_semantics(node):
    pod = node.add_pod("pod-a")
    assert pod.run(["cat"], input="hello").stdout == "hello"
    assert pod.run(["sh", "-c", "echo $FOO"], env={"FOO": "bar", "PATH": "/usr/bin:/bin"}).stdout == "bar\n"
    assert pod.run(["sh", "-c", "exit 7"]).returncode == 7
    with pytest.raises(subprocess.CalledProcessError):
        pod.run(["false"], check=True)
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        pod.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - start < 5
    assert pod.run(["cat", f"{pod.container_cgroup_dir}/cgroup.procs"]).stdout.split() != []  # only cat itself
    with pytest.raises(TypeError):
        pod.run("echo not-a-list")
