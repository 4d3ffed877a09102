# SPDX-License-Identifier: Apache-2.0
"""Running the attacker (attacker.py) in a simulated pod and watching what reaches the fabric (sniffer.py):
what the kernel tests and the agent's end-to-end attack tests share.

    with FabricSniffer(node, ["169.254.169.254"]) as sniff:
        attack(pod, "frames-to-target", "--gw-mac", gateway(node, pod).mac, "--src", pod.ip, ...)
    assert sniff.frames_from(pod.ip) == []
"""
from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import netns as nets

PYTHON = "/usr/bin/python3"
ATTACKER = Path(__file__).resolve().parent / "attacker.py"
SNIFFER = Path(__file__).resolve().parent / "sniffer.py"


@dataclass
class Gateway:
    mac: str
    ip: str


def gateway(node, pod) -> Gateway:
    """Where a pod sends what is not on its link: the kubenet bridge, or the routed veth's node end (Azure CNI
    answers for 169.254.1.1 there). A hostNetwork pod's is the fabric's gateway behind the uplink."""
    if pod.host_network:
        return Gateway(nets.link_mac(node.fabric_netns, nets.FABRIC_PORT), node.fabric_gateway)
    if node.network == "kubenet":
        return Gateway(nets.BRIDGE_MAC, node.bridge_ip)
    return Gateway(nets.link_mac(node.netns, pod.host_link), nets.AZURE_GATEWAY)


def attack(pod, command: str, *args: str, cap_net_raw: bool = True, timeout: float = 60) -> dict:
    """Run one attacker command in the pod; its JSON result."""
    out = pod.run([PYTHON, str(ATTACKER), command, *args], cap_net_raw=cap_net_raw, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"attacker {command} failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    return json.loads(lines[-1])


def start_attack(pod, command: str, *args: str) -> subprocess.Popen:
    """An attacker command running in the background; `finish_attack` collects its result."""
    return pod.popen([PYTHON, str(ATTACKER), command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)


def finish_attack(proc: subprocess.Popen, timeout: float = 60) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"attacker failed ({proc.returncode}): {out}\n{err}")
    return json.loads(lines[-1])


class FabricSniffer:
    """Every frame for the given addresses that reaches the fabric (the node's uplink, seen from Azure's side)
    while the block runs."""

    def __init__(self, node, addresses: list[str]):
        self.node, self.addresses = node, addresses
        self.frames: list[dict] = []
        self._proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> "FabricSniffer":
        args = [PYTHON, str(SNIFFER), "--iface", nets.FABRIC_PORT, "--seconds", "300"]
        for a in self.addresses:
            args += ["--dst", a]
        self._proc = self.node.fabric_popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"sniffer did not start: {self._proc.stderr.read()}")
        return self

    def __exit__(self, *exc) -> None:
        self._proc.terminate()
        out, err = self._proc.communicate(timeout=30)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"sniffer gave no result: {out}\n{err}")
        self.frames = json.loads(lines[-1])["frames"]

    def frames_from(self, *sources: str) -> list[dict]:
        return [f for f in self.frames if f["src"] in sources]

    def frames_not_from(self, *sources: str) -> list[dict]:
        return [f for f in self.frames if f["src"] not in sources]


def neighbour_mac(node, address: str) -> Optional[str]:
    """The MAC the node's neighbour table holds for address (any state but FAILED/INCOMPLETE), or None."""
    out = node.run(["ip", "-j", "neigh", "show", "to", address], check=True).stdout
    for n in json.loads(out or "[]"):
        if "lladdr" in n and not set(n.get("state", [])) & {"FAILED", "INCOMPLETE"}:
            return n["lladdr"]
    return None


def link_local(pod) -> str:
    """The pod's IPv6 link-local address on eth0 (waiting for duplicate address detection to finish)."""
    for _ in range(100):
        out = pod.run(["ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link"], check=True).stdout
        for iface in json.loads(out or "[]"):
            for a in iface.get("addr_info", []):
                if not a.get("tentative"):
                    return a["local"]
        time.sleep(0.05)
    raise RuntimeError(f"{pod.name} has no IPv6 link-local address")


def pod_mac(pod) -> str:
    return json.loads(pod.run(["ip", "-j", "link", "show", "dev", "eth0"], check=True).stdout)[0]["address"]
