# SPDX-License-Identifier: Apache-2.0
"""A simulated Kubernetes node: its own network namespace (never the host's) with an uplink to a "fabric"
namespace standing for Azure's network, its own cgroup v2 subtree laid out by the kubelet's rules, and the pods on
it. All names carry a random per-node prefix, and everything created is
recorded in a Ledger that `close()`, the `with` block, atexit, a terminating signal or the CLI tears down."""
from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Optional, Sequence

from . import cgroups, layout, proc
from . import netns as nets     # `netns` is also the attribute naming a namespace
from .cleanup import CleanupError, Ledger, new_prefix, register, release
from .manifests import node_manifest
from .pod import Pod

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _check_dns_name(what: str, value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"{what} {value!r} is not a lower-case DNS name (as Kubernetes requires)")
    return value


class Node:
    def __init__(self, *, name: str, ledger: Ledger, cgroup_driver: str, runtime: str, network: str,
                 agent_addr: str, pod_cidr: str, cgroup_root: Path, netns: str, fabric_netns: str,
                 api: Any = None, provider_id: Optional[str] = None, next_host: int = 2,
                 addresses: Sequence[str] = (), fabric_addresses: Sequence[str] = ()):
        self.name = _check_dns_name("node name", name)
        self.ledger = ledger
        self.prefix = ledger.prefix
        self.cgroup_driver = layout.check_choice("cgroup_driver", cgroup_driver, layout.DRIVERS)
        self.runtime = layout.check_choice("runtime", runtime, layout.RUNTIMES)
        self.network = layout.check_choice("network", network, nets.NETWORKS)
        self.agent_addr = str(ipaddress.IPv4Address(agent_addr))
        self.pod_cidr = ipaddress.IPv4Network(pod_cidr)
        if self.pod_cidr.num_addresses < 4:
            raise ValueError(f"pod_cidr {pod_cidr} leaves no room for a node address and pods")
        # kubenet gives the bridge the first address of the node's pod CIDR; azure-cni puts it on `node0`.
        self.bridge_ip = str(self.pod_cidr.network_address + 1)
        self.cgroup_root = Path(cgroup_root)
        self.kubepods_dir = self.cgroup_root / layout.kubepods_name(self.cgroup_driver)
        self.netns = netns
        # Behind the node's uplink: Azure's network, where the metadata-service stand-ins live.
        self.fabric_netns = fabric_netns
        self.uplink = nets.UPLINK
        self.uplink_ip = nets.UPLINK_ADDR
        self.fabric_gateway = nets.FABRIC_GATEWAY
        self.api = api
        self.provider_id = provider_id
        self.addresses = list(addresses)
        self.fabric_addresses = list(fabric_addresses)
        self.pods: dict[tuple[str, str], Pod] = {}
        self._next_host = next_host

    @property
    def node_ip(self) -> str:
        """The node's own address (InternalIP): the bridge address under kubenet."""
        return self.bridge_ip

    # --- life cycle --------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str = "node-a", cgroup_driver: str = "systemd", network: str = "kubenet",
               agent_addr: str = "169.254.32.1", pod_cidr: str = "10.244.1.0/24", runtime: str = "containerd",
               api: Any = None, provider_id: Optional[str] = None, prefix: Optional[str] = None) -> "Node":
        ledger = Ledger(prefix or new_prefix())
        run_name = f"{ledger.prefix}-{_check_dns_name('node name', name)}"
        node = cls(name=name, ledger=ledger, cgroup_driver=cgroup_driver, runtime=runtime, network=network,
                   agent_addr=agent_addr, pod_cidr=pod_cidr, cgroup_root=cgroups.find_cgroup2_mount() / run_name,
                   netns=run_name, fabric_netns=f"{ledger.prefix}-fab-{name}", api=api,
                   provider_id=provider_id)
        register(ledger)
        try:
            ledger.add_cgroup(node.cgroup_root)
            node.cgroup_root.mkdir()            # must not exist yet: it is ours alone
            cgroups.make_dirs(node.cgroup_root, layout.qos_dirs(cgroup_driver))
            nets.create(ledger.add_netns(node.netns))
            nets.setup_node(node.netns, network, node.agent_addr, node.bridge_ip, node.pod_cidr.prefixlen)
            nets.create(ledger.add_netns(node.fabric_netns))
            nets.setup_fabric(node.netns, node.fabric_netns, str(node.pod_cidr))
            if api is not None:
                api.create_node(node.manifest())
        except BaseException:
            node._close_quietly()
            raise
        return node

    def close(self) -> None:
        """Kill every process started here, remove every cgroup and namespace; CleanupError if any remain."""
        if self.api is not None and hasattr(self.api, "delete_pod"):
            for pod in list(self.pods.values()):
                _best_effort(self.api.delete_pod, pod.namespace, pod.name)
        self.pods.clear()
        problems = self.ledger.teardown()
        release(self.ledger)
        if problems:
            raise CleanupError("; ".join(problems))

    def detach(self) -> None:
        """Keep everything after this process exits (the CLI's `create`); `destroy` removes it later."""
        release(self.ledger)

    def _close_quietly(self) -> None:
        try:
            self.close()
        except CleanupError as e:
            print(f"podid sim cleanup: {e}", file=sys.stderr)

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._close_quietly()       # never hide the test's own exception behind a cleanup one

    # --- network and cgroups -----------------------------------------------------------------------------------
    def add_address(self, cidr: str) -> None:
        """Another local address of the node, on `imds0`."""
        nets.add_address(self.netns, cidr)
        self.addresses.append(cidr)

    def add_fabric_address(self, cidr: str) -> None:
        """An address behind the node's uplink, e.g. 169.254.169.254/32 for a stand-in IMDS, reached as on Azure:
        through the node's default route. A stand-in listening there (fabric_popen) proves where a frame went."""
        nets.add_address(self.fabric_netns, cidr, nets.FABRIC_SERVICE_LINK)
        self.fabric_addresses.append(cidr)

    def make_cgroup(self, name: str, under_kubepods: bool = False) -> Path:
        """A non-pod cgroup (e.g. for the agent) under the node's root, or under kubepods."""
        if name.startswith("/") or ".." in Path(name).parts:
            raise ValueError(f"cgroup name {name!r} must be relative and stay below the node")
        path = (self.kubepods_dir if under_kubepods else self.cgroup_root) / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- pods ------------------------------------------------------------------------------------------------
    def add_pod(self, name: str, namespace: str = "default", qos: str = "burstable", uid: Optional[str] = None,
                labels: Optional[dict] = None, host_network: bool = False, service_account: str = "default",
                api: Any = None, ip: Optional[str] = None) -> Pod:
        """Create a running pod. `api` (default: the node's) gets `create_pod(manifest)`; `ip` picks the pod's
        address inside pod_cidr instead of the next free one."""
        key = (_check_dns_name("namespace", namespace), _check_dns_name("pod name", name))
        if key in self.pods:
            raise ValueError(f"pod {namespace}/{name} already exists on {self.name}")
        uid = uid or str(uuid.uuid4())
        if not _UUID.match(uid):
            raise ValueError(f"pod uid {uid!r} is not a lower-case UUID with dashes")
        container_id, sandbox_id = layout.new_container_id(), layout.new_container_id()
        pod = Pod(node=self, name=name, namespace=namespace, uid=uid, qos=layout.check_choice(
                      "qos", qos, layout.QOS_CLASSES),
                  ip=self.bridge_ip if host_network else self._pod_ip(ip),
                  netns=self.netns if host_network else f"{self.netns}-{namespace}-{name}",
                  host_network=host_network, service_account=service_account, labels=dict(labels or {}),
                  container_id=container_id, sandbox_id=sandbox_id,
                  cgroup_layout=layout.pod_cgroups(self.cgroup_driver, self.runtime, qos, uid, container_id,
                                                   sandbox_id))
        try:
            cgroups.make_dirs(self.cgroup_root, pod.cgroup_layout.all_dirs())
            if not host_network:
                nets.create(self.ledger.add_netns(pod.netns))
                pod.host_link = nets.host_link_name(self.network)
                nets.add_pod(self.netns, pod.netns, self.network, pod.host_link, pod.ip, self.bridge_ip,
                              self.pod_cidr.prefixlen)
            self.pods[key] = pod
            api = api if api is not None else self.api
            if api is not None:
                api.create_pod(pod.manifest())
        except BaseException:
            self.pods.pop(key, None)
            self._remove_pod_resources(pod)
            raise
        return pod

    def remove_pod(self, pod: Pod) -> None:
        """Kill the pod's processes and remove its cgroups and namespace (the QoS slices stay, as they do)."""
        if self.api is not None and hasattr(self.api, "delete_pod"):
            _best_effort(self.api.delete_pod, pod.namespace, pod.name)
        self.pods.pop((pod.namespace, pod.name), None)
        problems = self._remove_pod_resources(pod)
        if problems:
            raise CleanupError("; ".join(problems))

    def _remove_pod_resources(self, pod: Pod) -> list[str]:
        problems = cgroups.remove_tree(pod.pod_cgroup_dir)
        if not pod.host_network:
            try:
                nets.delete_link(self.netns, pod.host_link)
            except nets.NetError as e:
                problems.append(str(e))
            problems += self.ledger.remove_netns(pod.netns)
        return problems

    def _pod_ip(self, wanted: Optional[str]) -> str:
        if wanted is not None:
            addr = ipaddress.IPv4Address(wanted)
            if addr not in self.pod_cidr or str(addr) == self.bridge_ip:
                raise ValueError(f"pod ip {wanted} is not a free pod address in {self.pod_cidr}")
            return str(addr)
        addr = self.pod_cidr.network_address + self._next_host
        if addr >= self.pod_cidr.broadcast_address:
            raise ValueError(f"pod_cidr {self.pod_cidr} is full")
        self._next_host += 1
        return str(addr)

    def pod(self, name: str, namespace: str = "default") -> Pod:
        return self.pods[(namespace, name)]

    # --- processes in the node namespace ---------------------------------------------------------------------
    def popen(self, argv: Sequence[str], cgroup: Optional[Path] = None, **popen_kwargs) -> subprocess.Popen:
        """Start argv as root with all capabilities in the node netns; in `cgroup` if given (e.g. the agent's
        cgroup from make_cgroup) from its first instruction, else in this process's cgroup."""
        p = proc.spawn(argv, self.netns, cgroup, None, **popen_kwargs)
        ours = cgroup is not None and Path(cgroup).is_relative_to(self.cgroup_root)
        return self.ledger.add_process(p, in_our_cgroup=ours)

    def run(self, argv: Sequence[str], cgroup: Optional[Path] = None, timeout: Optional[float] = 30,
            input: Optional[str] = None, check: bool = False,
            env: Optional[dict] = None) -> subprocess.CompletedProcess:
        return proc.run(lambda **kw: self.popen(argv, cgroup, **kw), timeout, input, check, env)

    # --- processes in the fabric (stand-ins for Azure's services) --------------------------------------------
    def fabric_popen(self, argv: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        """Start argv as root in the fabric namespace (in this process's cgroup): a stand-in service."""
        return self.ledger.add_process(proc.spawn(argv, self.fabric_netns, None, None, **popen_kwargs),
                                       in_our_cgroup=False)

    def fabric_run(self, argv: Sequence[str], timeout: Optional[float] = 30, input: Optional[str] = None,
                   check: bool = False, env: Optional[dict] = None) -> subprocess.CompletedProcess:
        return proc.run(lambda **kw: self.fabric_popen(argv, **kw), timeout, input, check, env)

    # --- Kubernetes object and CLI state ----------------------------------------------------------------------
    def manifest(self) -> dict:
        return node_manifest(self.name, self.node_ip, str(self.pod_cidr), self.provider_id)

    def to_state(self) -> dict:
        return {"version": 1, "ledger": self.ledger.to_dict(), "name": self.name,
                "cgroup_driver": self.cgroup_driver, "runtime": self.runtime, "network": self.network,
                "agent_addr": self.agent_addr, "pod_cidr": str(self.pod_cidr), "cgroup_root": str(self.cgroup_root),
                "netns": self.netns, "fabric_netns": self.fabric_netns, "provider_id": self.provider_id,
                "next_host": self._next_host, "addresses": self.addresses, "fabric_addresses": self.fabric_addresses,
                "uplink": self.uplink, "uplink_ip": self.uplink_ip, "bridge_ip": self.bridge_ip, "kubepods_dir": str(self.kubepods_dir),
                "pods": [p.to_state() for p in self.pods.values()]}

    @classmethod
    def from_state(cls, state: dict, api: Any = None) -> "Node":
        """The node a state file describes, NOT registered for automatic cleanup (only `close()` removes it)."""
        if state.get("version") != 1:
            raise ValueError("unknown state file version")
        node = cls(name=state["name"], ledger=Ledger.from_dict(state["ledger"]),
                   cgroup_driver=state["cgroup_driver"], runtime=state["runtime"], network=state["network"],
                   agent_addr=state["agent_addr"], pod_cidr=state["pod_cidr"], cgroup_root=Path(state["cgroup_root"]),
                   netns=state["netns"], fabric_netns=state["fabric_netns"], api=api,
                   provider_id=state["provider_id"], next_host=state["next_host"], addresses=state["addresses"],
                   fabric_addresses=state.get("fabric_addresses", []))
        for ps in state["pods"]:
            pod = Pod.from_state(node, ps)
            node.pods[(pod.namespace, pod.name)] = pod
        return node


def _best_effort(fn, *args) -> None:
    # The API stand-in's bookkeeping must never stop the kernel-side cleanup.
    try:
        fn(*args)
    except Exception as e:      # noqa: BLE001
        print(f"podid sim cleanup: {fn.__name__}{args}: {e}", file=sys.stderr)
