# SPDX-License-Identifier: Apache-2.0
"""The simulated node's and pods' networks, built with iproute2 inside namespaces the harness creates.

Safety: something really answers at 169.254.169.254 on the test machines' host network, so nothing here ever
runs in, or links to, the host's root namespace. Links are created *inside* a run-named namespace (the veth's
pod end is created straight into the pod's namespace). The node's only way out is its uplink `eth0` to its
own "fabric" namespace, which stands for Azure's network behind a VM's NIC: it holds the metadata-service
stand-ins a test puts there (169.254.169.254, 168.63.129.16) and has no route anywhere else, so a frame that
escapes the node's hooks travels the way it would on Azure and ends in the fabric, never off the machine.

Two pod networks:
- kubenet: bridge `cbr0` holding the node's address (first host of the pod CIDR); each pod's `eth0` is a veth
  on the bridge with a pod-CIDR address and a default route via the bridge address.
- azure-cni (transparent mode, routed): no bridge; each pod's `eth0` holds a /32 and routes everything via the
  link-local gateway 169.254.1.1, whose MAC is pinned in a permanent neighbour entry (the node end of the veth
  answers); the node holds a /32 route per pod and forwards between pods. The node's own address (first host
  of the pod CIDR) sits on an address-only link `node0`.
"""
from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
from typing import Optional, Sequence

from .proc import NSENTER, netns_path

AGENT_LINK = "imds0"
BRIDGE = "cbr0"
NODE_LINK = "node0"
UPLINK = "eth0"                    # the node's NIC, as on an Azure VM
FABRIC_PORT = "vnet0"              # its other end, in the fabric namespace
FABRIC_SERVICE_LINK = "svc0"       # holds the stand-ins' addresses in the fabric
UPLINK_ADDR = "10.224.0.4"         # the node's address on its subnet (an AKS node subnet's first VM)
FABRIC_GATEWAY = "10.224.0.1"      # the subnet's gateway: the node's default route
UPLINK_PREFIXLEN = 24
AZURE_GATEWAY = "169.254.1.1"      # Azure CNI transparent mode's gateway: never an address of any interface
NETWORKS = ("kubenet", "azure-cni")


class NetError(RuntimeError):
    pass


def _run(cmd: Sequence[str], input: Optional[str] = None) -> str:
    r = subprocess.run(list(cmd), input=input, capture_output=True, text=True)
    if r.returncode != 0:
        raise NetError(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def ip_batch(netns: str, commands: Sequence[str]) -> None:
    """Run iproute2 commands in netns, in one `ip` process (pod creation is a benchmark's hot path)."""
    _run(["ip", "-n", netns, "-batch", "-"], input="\n".join(commands) + "\n")


def create(name: str) -> None:
    """A fresh, empty network namespace, mounted at /run/netns/<name>."""
    _run(["ip", "netns", "add", name])


def set_sysctl(netns: str, key: str, value: str) -> None:
    # /proc/sys/net shows the namespace of the process reading it, hence the nsenter.
    path = "/proc/sys/" + key.replace(".", "/")
    _run([NSENTER, f"--net={netns_path(netns)}", "--", "sh", "-c", 'echo "$1" > "$2"', "sh", value, path])


_address_link_kind: Optional[str] = None


def _add_address_link(netns: str, name: str) -> None:
    """A link that only holds local addresses: `dummy`, as on real nodes; `ifb` on kernels built without the
    dummy driver (this project's CI kernel has CONFIG_DUMMY unset). Either way no packet leaves through it."""
    global _address_link_kind
    for kind in ([_address_link_kind] if _address_link_kind else ["dummy", "ifb"]):
        try:
            ip_batch(netns, [f"link add {name} type {kind}"])
        except NetError as e:
            if "Unknown device type" in str(e):
                continue
            raise
        _address_link_kind = kind
        return
    raise NetError("the kernel has neither the dummy nor the ifb driver: no link to hold the agent address")


BRIDGE_MAC = "02:70:64:00:00:01"     # locally administered; one per node namespace, so never shared


def setup_node(netns: str, network: str, agent_addr: str, node_addr: str, pod_prefixlen: int) -> None:
    """lo, the agent's `imds0` with agent_addr/32, and the pod-facing side: nothing that leaves the box."""
    _add_address_link(netns, AGENT_LINK)
    if network != "kubenet":
        _add_address_link(netns, NODE_LINK)
    cmds = ["link set lo up",
            f"addr add {agent_addr}/32 dev {AGENT_LINK}",
            f"link set {AGENT_LINK} up"]
    if network == "kubenet":
        # A bridge without an address of its own takes the lowest MAC among its ports, so adding a pod could
        # change it and cut the other pods off the node until their neighbour entries expire (30-45 s). The
        # CNI bridge plugin sets one; so do we.
        cmds += [f"link add {BRIDGE} address {BRIDGE_MAC} type bridge",
                 f"addr add {node_addr}/{pod_prefixlen} dev {BRIDGE}",
                 f"link set {BRIDGE} up"]
    else:
        cmds += [f"addr add {node_addr}/32 dev {NODE_LINK}",
                 f"link set {NODE_LINK} up"]
    ip_batch(netns, cmds)
    # Routed pods (azure-cni) reach each other through the node, and every pod reaches the fabric through it.
    # Forwarding cannot leak: the fabric routes nowhere off the machine.
    set_sysctl(netns, "net.ipv4.ip_forward", "1")


def add_address(netns: str, cidr: str, link: str = AGENT_LINK) -> None:
    ipaddress.ip_interface(cidr)     # a clear error for a typo, before iproute2's terse one
    ip_batch(netns, [f"addr add {cidr} dev {link}"])


def setup_fabric(node_ns: str, fabric_ns: str, pod_cidr: str) -> None:
    """The node's uplink and what lies behind it: `eth0` (UPLINK_ADDR) in the node, its peer `vnet0`
    (FABRIC_GATEWAY) in the fabric, the node's default route through it, and a `svc0` link in the fabric for
    stand-in addresses. The fabric routes the node's pod CIDR back to the node (as Azure's route table does for
    kubenet) and nothing else; it forwards, so a packet to any other address gets an ICMP unreachable at once
    instead of silence."""
    _add_address_link(fabric_ns, FABRIC_SERVICE_LINK)
    ip_batch(node_ns, [f"link add {UPLINK} type veth peer name {FABRIC_PORT} netns {fabric_ns}",
                       f"addr add {UPLINK_ADDR}/{UPLINK_PREFIXLEN} dev {UPLINK}",
                       f"link set {UPLINK} up",
                       f"route add default via {FABRIC_GATEWAY} dev {UPLINK}"])
    ip_batch(fabric_ns, ["link set lo up",
                         f"addr add {FABRIC_GATEWAY}/{UPLINK_PREFIXLEN} dev {FABRIC_PORT}",
                         f"link set {FABRIC_PORT} up",
                         f"link set {FABRIC_SERVICE_LINK} up",
                         f"route add {pod_cidr} via {UPLINK_ADDR} dev {FABRIC_PORT}"])
    set_sysctl(fabric_ns, "net.ipv4.ip_forward", "1")
    set_sysctl(fabric_ns, "net.ipv4.icmp_ratelimit", "0")   # every stray packet gets its unreachable, at once


def host_link_name(network: str) -> str:
    # Real names: kubenet `veth<8 hex>`, Azure CNI `azv<hash>`; at most 15 characters (IFNAMSIZ).
    return ("veth" if network == "kubenet" else "azv") + secrets.token_hex(4)


def add_pod(node_ns: str, pod_ns: str, network: str, host_link: str, pod_ip: str, node_addr: str,
            pod_prefixlen: int) -> None:
    """Wire a pod namespace to the node: a veth whose pod end, `eth0`, is born inside the pod namespace."""
    node_cmds = [f"link add {host_link} type veth peer name eth0 netns {pod_ns}"]
    if network == "kubenet":
        node_cmds += [f"link set {host_link} master {BRIDGE}", f"link set {host_link} up"]
        pod_cmds = ["link set lo up",
                    f"addr add {pod_ip}/{pod_prefixlen} dev eth0",
                    "link set eth0 up",
                    f"route add default via {node_addr} dev eth0"]
        ip_batch(node_ns, node_cmds)
        ip_batch(pod_ns, pod_cmds)
        return
    node_cmds += [f"link set {host_link} up", f"route add {pod_ip}/32 dev {host_link}"]
    ip_batch(node_ns, node_cmds)
    mac = link_mac(node_ns, host_link)
    ip_batch(pod_ns, ["link set lo up",
                      f"addr add {pod_ip}/32 dev eth0",
                      "link set eth0 up",
                      f"route add {AZURE_GATEWAY}/32 dev eth0 scope link",
                      f"route add default via {AZURE_GATEWAY} dev eth0",
                      f"neigh replace {AZURE_GATEWAY} lladdr {mac} dev eth0 nud permanent"])


def delete_link(netns: str, link: str) -> None:
    """Delete a link now. A veth whose peer's namespace is removed goes away only when the kernel's
    asynchronous netns cleanup runs, so callers that need it gone at once delete it themselves."""
    if link in links(netns):
        _run(["ip", "-n", netns, "link", "del", "dev", link])


def link_mac(netns: str, link: str) -> str:
    return json.loads(_run(["ip", "-n", netns, "-j", "link", "show", "dev", link]))[0]["address"]


def links(netns: Optional[str] = None) -> list[str]:
    """Link names in netns (None: the namespace of this process)."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-j", "link", "show"]
    return [link["ifname"] for link in json.loads(_run(cmd))]


def names() -> list[str]:
    """The named network namespaces on the machine."""
    out = _run(["ip", "-j", "netns", "list"]).strip()
    return [ns["name"] for ns in json.loads(out)] if out else []
