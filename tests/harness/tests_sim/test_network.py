# SPDX-License-Identifier: Apache-2.0
"""Pods reach each other, the node's address, the agent address and the node's fabric (Azure's network behind
the uplink), and nothing else: in particular never the real 169.254.169.254, which answers on this machine's
host network."""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time

import pytest

from podid_harness.sim import Node

from conftest import CLIENT, SERVER, connect, start_server

NETWORKS = ["kubenet", "azure-cni"]
UNREACHABLE = ("error ENETUNREACH", "error EHOSTUNREACH", "error timeout", "error ECONNREFUSED")


@pytest.fixture(params=NETWORKS)
def net_node(root, request):
    with Node.create(name="node-a", network=request.param) as n:
        yield n


def test_pods_reach_each_other_the_node_and_the_agent(net_node):
    a, b = net_node.add_pod("pod-a"), net_node.add_pod("pod-b", namespace="other", qos="besteffort")
    port_b, _ = start_server(b, b.ip)
    assert connect(a, b.ip, port_b) == "connected ok"
    for addr in (net_node.bridge_ip, net_node.agent_addr):
        port, _ = start_server(net_node, addr)
        assert connect(a, addr, port) == "connected ok", addr
        assert connect(b, addr, port) == "connected ok", addr


def test_pod_sees_its_own_ip_as_source_at_the_agent(net_node):
    a = net_node.add_pod("pod-a")
    server = ("import socket,sys\ns=socket.socket(); s.bind((sys.argv[1], 0)); s.listen(1)\n"
              "print(s.getsockname()[1], flush=True); c,peer=s.accept(); print(peer[0], flush=True)\n")
    p = net_node.popen([sys.executable, "-c", server, net_node.agent_addr], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    connect(a, net_node.agent_addr, port)
    assert p.stdout.readline().strip() == a.ip
    p.wait(timeout=5)


def test_imds_is_unreachable_without_a_stand_in_and_fails_fast(net_node):
    pod = net_node.add_pod("pod-a")
    start = time.monotonic()
    out = pod.run([sys.executable, "-c", CLIENT, "169.254.169.254", "80"], timeout=10).stdout.strip()
    assert out in UNREACHABLE[:3], out
    assert time.monotonic() - start < 5
    # The same from the node namespace, where an unredirected agent-side call would start: the fabric says no.
    assert net_node.run([sys.executable, "-c", CLIENT, "169.254.169.254", "80"]).stdout.strip() == \
        "error ENETUNREACH"


def test_a_stand_in_in_the_fabric_is_reached_through_the_uplink(net_node):
    pod = net_node.add_pod("pod-a")
    net_node.add_fabric_address("169.254.169.254/32")
    server = ("import socket,sys\ns=socket.socket(); s.bind((sys.argv[1], 0)); s.listen(4)\n"
              "print(s.getsockname()[1], flush=True)\n"
              "for _ in range(2):\n    c,peer=s.accept(); print(peer[0], flush=True); c.sendall(b'ok'); c.close()\n")
    p = net_node.fabric_popen([sys.executable, "-c", server, "169.254.169.254"], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    assert connect(pod, "169.254.169.254", port) == "connected ok"
    assert p.stdout.readline().strip() == pod.ip                 # no SNAT: the fabric sees the pod
    assert connect(net_node, "169.254.169.254", port) == "connected ok"
    assert p.stdout.readline().strip() == net_node.uplink_ip     # the node's own calls leave by its uplink
    p.wait(timeout=5)
    route = json.loads(net_node.run(["ip", "-j", "route", "get", "169.254.169.254"], check=True).stdout)[0]
    assert (route["dev"], route["gateway"]) == (net_node.uplink, net_node.fabric_gateway)


def test_no_route_leaves_the_fabric(net_node):
    # The node's only way out is its uplink, to its own fabric, which routes nothing but the pod CIDR back.
    default = json.loads(net_node.run(["ip", "-j", "route", "show", "default"], check=True).stdout)
    assert [(r["gateway"], r["dev"]) for r in default] == [(net_node.fabric_gateway, net_node.uplink)]
    r = net_node.fabric_run(["ip", "route", "get", "1.1.1.1"])
    assert r.returncode != 0 and "unreachable" in r.stderr.lower()
    assert net_node.fabric_run(["ip", "route", "show", "default"], check=True).stdout.strip() == ""
    fabric_links = {link["ifname"] for link in json.loads(net_node.fabric_run(["ip", "-j", "link", "show"],
                                                                              check=True).stdout)}
    assert fabric_links == {"lo", "vnet0", "svc0"}
    pod = net_node.add_pod("pod-a")
    links = json.loads(net_node.run(["ip", "-j", "link", "show"], check=True).stdout)
    names = {link["ifname"] for link in links}
    side = "cbr0" if net_node.network == "kubenet" else "node0"
    assert names == {"lo", "imds0", net_node.uplink, side, pod.host_link}
    # Every IPv4 address of the host's own interfaces is unroutable from the fabric.
    host = json.loads(subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                                     check=True).stdout)
    for iface in host:
        for a in iface.get("addr_info", []):
            ip = ipaddress.ip_address(a["local"])
            if ip.is_loopback or ip in net_node.pod_cidr or ip in ipaddress.ip_network("10.224.0.0/24"):
                continue
            assert net_node.fabric_run(["ip", "route", "get", str(ip)]).returncode != 0, ip


def test_a_server_on_the_hosts_own_address_is_unreachable(net_node):
    host = json.loads(subprocess.run(["ip", "-j", "-4", "route", "get", "1.1.1.1"], capture_output=True,
                                     text=True).stdout or "[]")
    if not host or "prefsrc" not in host[0]:
        pytest.skip("the host has no default route to take an address from")
    addr = host[0]["prefsrc"]
    server = subprocess.Popen([sys.executable, "-c", SERVER, addr],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        pod = net_node.add_pod("pod-a")
        assert connect(pod, addr, port) in UNREACHABLE
        assert connect(net_node, addr, port) in UNREACHABLE
    finally:
        server.kill()
        server.wait()


def test_two_nodes_with_the_same_pod_cidr_are_isolated(root):
    with Node.create(name="node-a") as na, Node.create(name="node-b", agent_addr="169.254.32.2") as nb:
        assert na.prefix != nb.prefix and na.netns != nb.netns
        a, b = na.add_pod("pod-a"), nb.add_pod("pod-a")
        assert a.ip == b.ip
        port, _ = start_server(nb, nb.agent_addr)
        assert connect(b, nb.agent_addr, port) == "connected ok"
        assert connect(a, nb.agent_addr, port) in UNREACHABLE
