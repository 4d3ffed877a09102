# SPDX-License-Identifier: Apache-2.0
"""One simulated pod: its identity (UID, container id), its cgroups, its network namespace, and running
commands inside it as its container would run them."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Optional, Sequence

from . import cgroups, manifests, proc
from .layout import PodCgroups

if TYPE_CHECKING:
    from .node import Node


@dataclass(eq=False)
class Pod:
    node: "Node" = field(repr=False)
    name: str
    namespace: str
    uid: str
    qos: str
    ip: str
    netns: str                      # the node's namespace for a hostNetwork pod
    host_network: bool
    service_account: str
    labels: dict
    container_id: str
    sandbox_id: str
    cgroup_layout: PodCgroups = field(repr=False)
    host_link: Optional[str] = None  # node end of the veth; None for hostNetwork
    created: str = field(default_factory=manifests.now_rfc3339)

    # --- cgroups -----------------------------------------------------------------------------------------------
    @property
    def pod_cgroup_dir(self) -> Path:
        return self.node.cgroup_root / self.cgroup_layout.pod

    @property
    def container_cgroup_dir(self) -> Path:
        return self.node.cgroup_root / self.cgroup_layout.container

    @property
    def pause_cgroup_dir(self) -> Path:
        """The sandbox (pause) container's scope: a second cgroup under the pod, as on a real node."""
        return self.node.cgroup_root / self.cgroup_layout.pause

    def cgroup_id(self) -> int:
        """The id `bpf_get_current_cgroup_id()` returns for this pod's container processes."""
        return cgroups.cgroup_id(self.container_cgroup_dir)

    def pod_cgroup_id(self) -> int:
        """The id of the pod-level ancestor (`bpf_get_current_ancestor_cgroup_id` at the pod's level)."""
        return cgroups.cgroup_id(self.pod_cgroup_dir)

    def cgroup_path(self) -> str:
        """The container cgroup as /proc/<pid>/cgroup shows it from the host's cgroup namespace ("0::<this>")."""
        return "/" + str(self.container_cgroup_dir.relative_to(cgroups.find_cgroup2_mount()))

    # --- processes ---------------------------------------------------------------------------------------------
    def popen(self, argv: Sequence[str], cap_net_raw: bool = True, **popen_kwargs) -> subprocess.Popen:
        """Start argv in the container: pod netns, container cgroup, containerd's default capabilities
        (without NET_RAW if cap_net_raw is False). The caller waits or kills; the node kills leftovers."""
        p = proc.spawn(argv, self.netns, self.container_cgroup_dir, proc.container_caps(cap_net_raw),
                       **popen_kwargs)
        return self.node.ledger.add_process(p, in_our_cgroup=True)

    def run(self, argv: Sequence[str], cap_net_raw: bool = True, timeout: Optional[float] = 30,
            input: Optional[str] = None, check: bool = False,
            env: Optional[dict] = None) -> subprocess.CompletedProcess:
        return proc.run(lambda **kw: self.popen(argv, cap_net_raw, **kw), timeout, input, check, env)

    # --- Kubernetes object and CLI state ----------------------------------------------------------------------
    def manifest(self) -> dict:
        return manifests.pod_manifest(
            self.name, self.namespace, self.uid, self.node.name, self.ip, self.node.bridge_ip,
            labels=self.labels, service_account=self.service_account, host_network=self.host_network,
            qos=self.qos, runtime=self.node.runtime, container_id=self.container_id, created=self.created)

    def to_state(self) -> dict:
        keep = ("name", "namespace", "uid", "qos", "ip", "netns", "host_network", "service_account", "labels",
                "container_id", "sandbox_id", "host_link", "created")
        state = {k: getattr(self, k) for k in keep}
        layout = self.cgroup_layout
        state["cgroups"] = {"pod": str(layout.pod), "container": str(layout.container),
                            "pause": str(layout.pause), "extra": [str(e) for e in layout.extra]}
        # Read-only facts for shell scripts (`show`); ignored by from_state.
        state["cgroup_id"] = self.cgroup_id()
        state["pod_cgroup_id"] = self.pod_cgroup_id()
        state["container_cgroup_dir"] = str(self.container_cgroup_dir)
        state["pod_cgroup_dir"] = str(self.pod_cgroup_dir)
        return state

    @classmethod
    def from_state(cls, node: "Node", state: dict) -> "Pod":
        c = state["cgroups"]
        layout = PodCgroups(pod=PurePosixPath(c["pod"]), container=PurePosixPath(c["container"]),
                            pause=PurePosixPath(c["pause"]), extra=tuple(PurePosixPath(e) for e in c["extra"]))
        fields = {k: v for k, v in state.items()
                  if k not in ("cgroups", "cgroup_id", "pod_cgroup_id", "container_cgroup_dir", "pod_cgroup_dir")}
        return cls(node=node, cgroup_layout=layout, **fields)
