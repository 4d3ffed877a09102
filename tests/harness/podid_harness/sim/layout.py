# SPDX-License-Identifier: Apache-2.0
"""Where the kubelet and the container runtime put a pod's cgroups (pure path arithmetic, no file system).

The layouts are those of the kernel design notes (shared reference/ebpf-kernel-design.md §4.2), reproduced byte
for byte because the agent's resolver must recognise the real thing: a simulation that invented its own names
would let a resolver pass here and fail on a node.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath

DRIVERS = ("systemd", "cgroupfs")
QOS_CLASSES = ("guaranteed", "burstable", "besteffort")
RUNTIMES = ("containerd", "crio", "docker")

# How each runtime names a container's scope under the systemd driver; the cgroupfs driver uses the bare id.
_SCOPE_PREFIX = {"containerd": "cri-containerd-", "crio": "crio-", "docker": "docker-"}
# What a runtime writes in status.containerStatuses[].containerID before the id.
CONTAINER_ID_SCHEME = {"containerd": "containerd://", "crio": "cri-o://", "docker": "docker://"}


def check_choice(what: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def new_container_id() -> str:
    """A 64-hex id, the shape of containerd, CRI-O and Docker ids."""
    return secrets.token_hex(32)


def kubepods_name(driver: str) -> str:
    return "kubepods.slice" if check_choice("cgroup_driver", driver, DRIVERS) == "systemd" else "kubepods"


def qos_dirs(driver: str) -> list[PurePosixPath]:
    """The QoS-level cgroups the kubelet creates at start-up, relative to the node's cgroup root."""
    top = PurePosixPath(kubepods_name(driver))
    if driver == "systemd":
        return [top, top / "kubepods-burstable.slice", top / "kubepods-besteffort.slice"]
    return [top, top / "burstable", top / "besteffort"]


def pod_dir(driver: str, qos: str, uid: str) -> PurePosixPath:
    """The pod-level cgroup, relative to the node's cgroup root."""
    check_choice("qos", qos, QOS_CLASSES)
    top = PurePosixPath(kubepods_name(driver))
    if driver == "systemd":
        # systemd unit names cannot hold '-' inside a component, so the kubelet writes the UID with '_'.
        uid_ = uid.replace("-", "_")
        if qos == "guaranteed":
            return top / f"kubepods-pod{uid_}.slice"
        return top / f"kubepods-{qos}.slice" / f"kubepods-{qos}-pod{uid_}.slice"
    if qos == "guaranteed":
        return top / f"pod{uid}"
    return top / qos / f"pod{uid}"


def container_scope(driver: str, runtime: str, container_id: str) -> str:
    """The name of one container's cgroup inside its pod's cgroup."""
    check_choice("runtime", runtime, RUNTIMES)
    if driver == "systemd":
        return f"{_SCOPE_PREFIX[runtime]}{container_id}.scope"
    return container_id


@dataclass(frozen=True)
class PodCgroups:
    """Every cgroup one simulated pod owns, relative to the node's cgroup root, parents before children."""
    pod: PurePosixPath
    container: PurePosixPath
    pause: PurePosixPath
    extra: tuple[PurePosixPath, ...]   # CRI-O's conmon scope: present on real nodes, must be skipped by resolvers

    def all_dirs(self) -> list[PurePosixPath]:
        return [self.pod, self.pause, self.container, *self.extra]


def pod_cgroups(driver: str, runtime: str, qos: str, uid: str, container_id: str,
                sandbox_id: str) -> PodCgroups:
    pod = pod_dir(driver, qos, uid)
    extra: tuple[PurePosixPath, ...] = ()
    if driver == "systemd" and runtime == "crio":
        # CRI-O runs its monitor in a sibling scope of the container; it is not the workload.
        extra = (pod / f"crio-conmon-{container_id}.scope",)
    return PodCgroups(pod=pod,
                      container=pod / container_scope(driver, runtime, container_id),
                      pause=pod / container_scope(driver, runtime, sandbox_id),
                      extra=extra)
