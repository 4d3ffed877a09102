# SPDX-License-Identifier: Apache-2.0
"""Pure checks of the cgroup path rules and the cgroup2 mount discovery (no root needed)."""
from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from podid_harness.sim import find_cgroup2_mount
from podid_harness.sim import layout

UID = "0f4c7a9e-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
U_ = UID.replace("-", "_")
CID = "a" * 64
SID = "b" * 64

EXPECTED = {
    ("systemd", "burstable", "containerd"):
        f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice/cri-containerd-{CID}.scope",
    ("systemd", "besteffort", "containerd"):
        f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{U_}.slice/cri-containerd-{CID}.scope",
    ("systemd", "guaranteed", "containerd"): f"kubepods.slice/kubepods-pod{U_}.slice/cri-containerd-{CID}.scope",
    ("systemd", "burstable", "crio"):
        f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{U_}.slice/crio-{CID}.scope",
    ("systemd", "guaranteed", "docker"): f"kubepods.slice/kubepods-pod{U_}.slice/docker-{CID}.scope",
    ("cgroupfs", "burstable", "containerd"): f"kubepods/burstable/pod{UID}/{CID}",
    ("cgroupfs", "besteffort", "crio"): f"kubepods/besteffort/pod{UID}/{CID}",
    ("cgroupfs", "guaranteed", "docker"): f"kubepods/pod{UID}/{CID}",
}


@pytest.mark.parametrize("driver,qos,runtime", sorted(EXPECTED))
def test_container_path_matches_the_kubelet(driver, qos, runtime):
    c = layout.pod_cgroups(driver, runtime, qos, UID, CID, SID)
    assert str(c.container) == EXPECTED[(driver, qos, runtime)]
    assert c.container.parent == c.pod
    assert c.pause.parent == c.pod and SID in c.pause.name and c.pause != c.container


def test_crio_conmon_scope_only_under_systemd():
    assert [str(e.name) for e in layout.pod_cgroups("systemd", "crio", "besteffort", UID, CID, SID).extra] == \
        [f"crio-conmon-{CID}.scope"]
    assert layout.pod_cgroups("cgroupfs", "crio", "besteffort", UID, CID, SID).extra == ()
    assert layout.pod_cgroups("systemd", "containerd", "besteffort", UID, CID, SID).extra == ()


def test_qos_dirs_are_created_parents_first():
    assert layout.qos_dirs("systemd") == [PurePosixPath("kubepods.slice"),
                                          PurePosixPath("kubepods.slice/kubepods-burstable.slice"),
                                          PurePosixPath("kubepods.slice/kubepods-besteffort.slice")]
    assert [str(d) for d in layout.qos_dirs("cgroupfs")] == ["kubepods", "kubepods/burstable", "kubepods/besteffort"]


@pytest.mark.parametrize("what,args", [("cgroup_driver", ("systemd2", "containerd", "burstable")),
                                       ("runtime", ("systemd", "runc", "burstable")),
                                       ("qos", ("systemd", "containerd", "Burstable"))])
def test_unknown_choices_are_refused(what, args):
    driver, runtime, qos = args
    with pytest.raises(ValueError, match=what):
        layout.pod_cgroups(driver, runtime, qos, UID, CID, SID)


def test_container_ids_are_64_hex_and_distinct():
    a, b = layout.new_container_id(), layout.new_container_id()
    assert len(a) == 64 and int(a, 16) >= 0 and a != b


def test_find_cgroup2_mount_reads_mountinfo(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/my\\040unified rw,relatime shared:11 master:2 - cgroup2 cgroup2 rw\n")
    assert str(find_cgroup2_mount(str(info))) == "/sys/fs/cgroup/my unified"


def test_find_cgroup2_mount_fails_clearly_on_a_v1_only_host(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n")
    with pytest.raises(RuntimeError, match="no cgroup2 mount"):
        find_cgroup2_mount(str(info))


def test_this_machine_has_a_cgroup2_mount_found_not_assumed():
    mount = find_cgroup2_mount()
    assert (mount / "cgroup.procs").exists()
    with open("/proc/self/mountinfo") as f:
        assert any(line.split(" - ")[1].startswith("cgroup2 ") and f" {mount} " in line for line in f)
