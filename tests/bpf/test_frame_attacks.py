# SPDX-License-Identifier: Apache-2.0
"""Issue 12 on a real kernel: what a pod holding NET_RAW (containerd's default) can do with hand-made frames,
and what the frame hooks leave it. The attacker is podid_harness/sim/attacker.py, run in a pod; a sniffer in the
node's fabric (podid_harness/sim/sniffer.py) sees whatever got off the node, as Azure's network would.

Each attack is also run once with the frame hooks off (`--host-hooks off`): it must then succeed, so the tests
that see it fail are seeing the hooks, not a broken attacker.
"""
from __future__ import annotations

import errno
import json
import signal
import subprocess
import time

import pytest

from conftest import IMDS, PROBE, STAND_IN_SERVER, WIRESERVER, free_port, probe, running_agent
from podid_harness.sim.attacks import (ATTACKER, FabricSniffer, attack, finish_attack, gateway, link_local,
                                       neighbour_mac, pod_mac, start_attack)

TARGETS = [IMDS, WIRESERVER]


def denied(agent, reason: str, timeout: float = 5) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in agent.lines() if line.get("msg") == "denied" and line.get("reason") == reason]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def datapath(agent, outcome: str) -> float:
    return agent.metric("podid_bpf_datapath_total", outcome=outcome)


def frames_to_targets(node, pod, src: str, sport: int = 41000, *extra: str) -> list[dict]:
    """IMDS every way (TCP, UDP, fragments, NAT64 from the pod's own link-local address), WireServer's TCP port
    (its other ports are open by policy); at least 8 frames that must not leave."""
    gw = gateway(node, pod)
    src6 = ["--src6", link_local(pod)] if not pod.host_network else []
    common = ["--gw-mac", gw.mac, "--src", src, "--sport", str(sport), *src6, *extra]
    return [attack(pod, "frames-to-target", *common, "--dst", IMDS, "--dport", "80"),
            attack(pod, "frames-to-target", *common, "--dst", WIRESERVER, "--dport", "32526", "--only-tcp")]


def touch6(node, addr6: str, iface: str = "cbr0") -> None:
    """Make the node resolve addr6 (a datagram to it: the kernel runs neighbour discovery first). A bridge that
    came up a moment ago may still be checking its own link-local address for duplicates (EADDRNOTAVAIL until
    then), so the send is retried for a few seconds."""
    node.run(["/usr/bin/python3", "-c",
              "import errno,socket,sys,time\n"
              "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
              "deadline = time.monotonic() + 5\n"
              "while True:\n"
              "    try:\n"
              "        s.sendto(b'x', (sys.argv[1], 9, 0, socket.if_nametoindex(sys.argv[2]))); break\n"
              "    except OSError as e:\n"
              "        if e.errno != errno.EADDRNOTAVAIL or time.monotonic() > deadline: raise\n"
              "        time.sleep(0.05)\n", addr6, iface], check=True)
    deadline = time.monotonic() + 3
    while neighbour_mac(node, addr6) is None and time.monotonic() < deadline:
        time.sleep(0.05)


def spare_address(node) -> str:
    """An address of the pod CIDR no pod holds."""
    return str(node.pod_cidr.network_address + 200)


# ---- raw frames to the metadata service (issue 12, attack 3) ------------------------------------------------
def test_frames_to_targets_never_reach_the_fabric(layout_node, layout_agent):
    node, agent = layout_node, layout_agent
    status, ready = agent.ops_get("/readyz")
    for hook in ("prerouting_ipv4", "prerouting_ipv6", "pod_interfaces", "uplink"):
        assert f"frame hook {hook}: active" in ready, ready
        assert agent.metric("podid_bpf_host_hook", hook=hook) == 1
    pod = node.add_pod("attacker")
    with FabricSniffer(node, TARGETS) as sniff:
        results = frames_to_targets(node, pod, pod.ip)
        spare = attack(pod, "handshake", "--gw-mac", gateway(node, pod).mac, "--src", spare_address(node), "--claim",
                       "--dst", IMDS, "--dport", "80", "--path", "/metadata/identity/oauth2/token", "--timeout", "1")
    assert sniff.frames_not_from(node.uplink_ip) == [], sniff.frames
    assert all(r["sent"]["raw_ip"] == "EPERM" for r in results), results  # the cgroup egress hook, as before
    assert spare["syn_ack"] is False and spare["status"] is None, spare
    assert datapath(agent, "pod_iface_target_drop") >= 8
    event = denied(agent, "pod_iface_target")
    assert event and event[0]["interface"] == pod.host_link and pod.ip in event[0]["pod_addresses"], event
    assert event[0]["hook"] == "pod_iface" and event[0]["source"] == pod.ip, event
    assert datapath(agent, "spoof_arp") >= 1 and datapath(agent, "spoof_ip") >= 1  # the spare address claimed


def test_prerouting_alone_drops_frames_to_targets(node, tmp_path):
    """The hook with no window: a pod interface the agent does not know (here: the agent skips every pod
    interface, as it would before it learned of a new one) is still held by netfilter pre-routing."""
    with running_agent(node, tmp_path, extra=["--pod-interface-prefix", "nothing-matches"]) as agent:
        pod = node.add_pod("attacker")
        with FabricSniffer(node, TARGETS) as sniff:
            frames_to_targets(node, pod, pod.ip)
        assert sniff.frames_not_from(node.uplink_ip) == [], sniff.frames
        assert datapath(agent, "prerouting_drop") >= 8
        assert datapath(agent, "pod_iface_target_drop") == 0  # no pod interface covered: pre-routing alone
        event = denied(agent, "prerouting")
        assert event and event[0]["hook"] == "prerouting" and event[0]["source"] == pod.ip, event
        assert event[0]["interface"] == "cbr0", event  # a bridged pod: pre-routing sees the bridge, not the port


def test_without_the_frame_hooks_every_attack_succeeds(node, tmp_path):
    """The control: the same attacker, with --host-hooks off, reaches the stand-in, poisons the node's
    neighbour table (ARP and IPv6 ND) and takes over a victim's redirected connection."""
    with running_agent(node, tmp_path, extra=["--host-hooks", "off"]) as agent:
        attacker, victim = node.add_pod("attacker"), node.add_pod("victim")
        gw = gateway(node, attacker)
        with FabricSniffer(node, TARGETS) as sniff:
            frames_to_targets(node, attacker, attacker.ip)
            spare = attack(attacker, "handshake", "--gw-mac", gw.mac, "--src", spare_address(node), "--claim",
                           "--dst", IMDS, "--dport", "80", "--path", "/")
        assert len(sniff.frames_from(attacker.ip)) >= 8, sniff.frames
        assert spare["syn_ack"] and spare["status"] == 200 and json.loads(spare["body"]) == {"stand_in": True}

        attack(attacker, "arp-poison", "--victim-ip", victim.ip, "--target-ip", node.bridge_ip,
               "--target-mac", gw.mac)
        assert neighbour_mac(node, victim.ip) == pod_mac(attacker)

        # The victim has talked before (it knows the gateway's MAC and sends no ARP request that would set the
        # node's entry right); the attacker keeps the node's entry for it pointing at itself.
        assert probe(victim, "tcp4").get("status") == 200
        takeover = start_attack(attacker, "arp-takeover", "--gw-mac", gw.mac, "--gateway-ip", node.bridge_ip,
                                "--victim-ip", victim.ip, "--agent", node.agent_addr, "--port", str(agent.port),
                                "--seconds", "6")
        time.sleep(0.5)
        victim.run([str(PROBE), "tcp4", "--timeout-ms", "3000"], timeout=20)
        stolen = finish_attack(takeover)
        assert stolen["saw_syn_ack"] and stolen["status"] == 200, stolen
        assert json.loads(stolen["body"])["cgroup_id"] == victim.cgroup_id()  # the victim's identity, to the attacker

        victim6, own6 = link_local(victim), link_local(attacker)
        touch6(node, victim6)
        attack(attacker, "nd-poison", "--victim-ip6", victim6, "--own-ip6", own6,
               "--target-ip6", link_local_of_bridge(node), "--target-mac", gw.mac)
        assert neighbour_mac(node, victim6) == pod_mac(attacker)


def link_local_of_bridge(node) -> str:
    out = node.run(["ip", "-j", "-6", "addr", "show", "dev", "cbr0", "scope", "link"], check=True).stdout
    return json.loads(out)[0]["addr_info"][0]["local"]


# ---- a pod sends only as itself (attacks 1 and 2, and IPv6 ND) ----------------------------------------------
def test_arp_spoofing_cannot_poison_the_node(node, agent):
    attacker, victim = node.add_pod("attacker"), node.add_pod("victim")
    gw = gateway(node, attacker)
    assert probe(victim, "tcp4").get("status") == 200  # the node has learned the victim's MAC
    attack(attacker, "arp-poison", "--victim-ip", victim.ip, "--target-ip", node.bridge_ip, "--target-mac", gw.mac)
    assert neighbour_mac(node, victim.ip) == pod_mac(victim)
    assert datapath(agent, "spoof_arp") >= 10
    event = denied(agent, "spoof_arp")
    assert event and event[0]["interface"] == attacker.host_link and event[0]["source"] == victim.ip, event
    assert event[0]["source_mac"] == pod_mac(attacker), event


def test_arp_takeover_of_a_redirected_connection_fails(node, agent):
    attacker, victim = node.add_pod("attacker"), node.add_pod("victim")
    gw = gateway(node, attacker)
    assert probe(victim, "tcp4").get("status") == 200  # as in the control: the victim sends no ARP request
    takeover = start_attack(attacker, "arp-takeover", "--gw-mac", gw.mac, "--gateway-ip", node.bridge_ip,
                            "--victim-ip", victim.ip, "--agent", node.agent_addr, "--port", str(agent.port),
                            "--seconds", "4")
    time.sleep(0.3)
    for _ in range(5):
        r = probe(victim, "tcp4")
        assert r.get("status") == 200 and r["body"]["cgroup_id"] == victim.cgroup_id(), r
    stolen = finish_attack(takeover)
    assert stolen["saw_syn_ack"] is False and stolen["status"] is None, stolen
    assert agent.metric("podid_agent_connections_total", outcome="attributed") == 6


def test_nd_spoofing_cannot_poison_the_node(node, agent):
    attacker, victim = node.add_pod("attacker"), node.add_pod("victim")
    victim6, own6 = link_local(victim), link_local(attacker)
    touch6(node, victim6)
    assert neighbour_mac(node, victim6) == pod_mac(victim)
    attack(attacker, "nd-poison", "--victim-ip6", victim6, "--own-ip6", own6, "--target-ip6", link_local_of_bridge(node),
           "--target-mac", gateway(node, attacker).mac)
    assert neighbour_mac(node, victim6) == pod_mac(victim)
    assert datapath(agent, "spoof_nd") >= 5 and datapath(agent, "spoof_ip") >= 5
    event = denied(agent, "spoof_nd")
    assert event and event[0]["interface"] == attacker.host_link, event


def test_forged_source_to_the_agent_gets_nothing(layout_node, layout_agent):
    node, agent = layout_node, layout_agent
    attacker, victim = node.add_pod("attacker"), node.add_pod("victim")
    r = attack(attacker, "spoof-syn", "--gw-mac", gateway(node, attacker).mac, "--src", victim.ip, "--sport", "45678",
               "--dst", node.agent_addr, "--dport", str(agent.port), "--timeout", "1.5")
    assert r["syn_ack"] is False and r["status"] is None, r
    assert agent.metric("podid_agent_connections_total", outcome="attributed") == 0
    assert agent.metric("podid_agent_connections_total", outcome="no_kernel_record") == 0  # never even accepted
    assert datapath(agent, "spoof_ip") >= 1


def test_another_ethernet_source_is_dropped(layout_node, layout_agent):
    node, agent = layout_node, layout_agent
    pod = node.add_pod("attacker")
    port = free_port(node, node.agent_addr)
    listener = node.popen(["/usr/bin/python3", "-c", STAND_IN_SERVER, node.agent_addr, str(port)],
                          stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().strip() == "ready"
    r = attack(pod, "mac-spoof", "--gw-mac", gateway(node, pod).mac, "--src", pod.ip, "--sport", "45679",
               "--dst", node.agent_addr, "--dport", str(port), "--timeout", "1")
    assert r["syn_ack"] is False, r
    assert datapath(agent, "spoof_mac") >= 1


# ---- the hostNetwork pod: frames on the node's own uplink --------------------------------------------------
def test_host_network_pod_frames_to_targets_are_dropped_at_the_uplink(node, agent):
    pod = node.add_pod("hostnet", host_network=True)
    gw = gateway(node, pod)
    with FabricSniffer(node, TARGETS) as sniff:
        pod_results = [attack(pod, "frames-to-target", "--iface", node.uplink, "--gw-mac", gw.mac,
                              "--src", node.uplink_ip, "--sport", "31337", "--dst", dst, "--dport", str(port), *only)
                       for dst, port, only in ((IMDS, 80, ()), (WIRESERVER, 32526, ("--only-tcp",)))]
        bypass = attack(pod, "qdisc-bypass", "--iface", node.uplink)
        xdp = attack(pod, "xdp-socket")
        # The node's own processes (not below kubepods) send the same frames, and the agent reaches IMDS.
        node_results = node.run(["/usr/bin/python3", str(ATTACKER), "frames-to-target",
                                 "--iface", node.uplink, "--gw-mac", gw.mac, "--src", node.uplink_ip,
                                 "--sport", "31338", "--dst", IMDS, "--dport", "80", "--qdisc-bypass"], check=True)
        agent_call = json.loads(node.run([str(PROBE), "tcp4"], cgroup=agent.cgroup, check=True).stdout)
    from_pod = [f for f in sniff.frames if f.get("sport") == 31337]
    from_node = [f for f in sniff.frames if f.get("sport") == 31338]
    assert from_pod == [], from_pod
    assert all(v in ("ENOBUFS", "EPERM", None) for r in pod_results for v in r["sent"].values()), pod_results
    assert bypass == {"refused": True, "errno": "EPERM"}, bypass
    assert xdp["refused"] is True, xdp
    assert len(from_node) >= 5, (node_results.stdout, sniff.frames)
    assert agent_call.get("status") == 200 and agent_call["body"] == {"stand_in": True}, agent_call
    assert datapath(agent, "uplink_drop") >= 5 and datapath(agent, "deny_sockopt") >= 1
    event = denied(agent, "uplink")
    assert event and event[0]["hook"] == "uplink" and event[0]["cgroup_id"] == pod.cgroup_id(), event
    assert event[0]["cgroup_path"] == pod.cgroup_path(), event


# ---- fail closed, and no window ------------------------------------------------------------------------------
def test_agent_killed_mid_attack_nothing_reaches_the_fabric(layout_node, layout_agent):
    node, agent = layout_node, layout_agent
    pod = node.add_pod("attacker")
    gw = gateway(node, pod)
    with FabricSniffer(node, TARGETS) as sniff:
        loop = pod.popen(["sh", "-c", "for i in $(seq 30); do /usr/bin/python3 $0 frames-to-target --gw-mac $1 "
                          "--src $2 --dst $3 --dport 80 >/dev/null; sleep 0.05; done",
                          str(ATTACKER), gw.mac, pod.ip, IMDS])
        time.sleep(0.5)
        agent.kill(signal.SIGKILL)
        loop.wait(timeout=120)
        late = node.add_pod("late")  # an interface born while no agent runs
        frames_to_targets(node, late, late.ip)
    assert sniff.frames_not_from(node.uplink_ip) == [], sniff.frames


def test_new_pods_first_frames_are_checked(layout_node, layout_agent):
    node = layout_node
    with FabricSniffer(node, TARGETS) as sniff:
        for i in range(3):
            pod = node.add_pod(f"fresh-{i}")
            frames_to_targets(node, pod, pod.ip)  # its very first frames
    assert sniff.frames_not_from(node.uplink_ip) == [], sniff.frames


def test_pod_created_while_no_agent_runs_is_repaired_when_it_returns(node, agent):
    """What the window leaves: a pod interface born while no agent runs is not source-checked until an agent
    covers it, so its ARP poisoning lands (frames to targets never do: pre-routing holds). The agent, once back,
    covers the interface and removes the poisoned neighbour entry."""
    victim = node.add_pod("victim")
    assert probe(victim, "tcp4").get("status") == 200
    agent.kill(signal.SIGKILL)
    attacker = node.add_pod("attacker")
    gw = gateway(node, attacker)
    attack(attacker, "arp-poison", "--victim-ip", victim.ip, "--target-ip", node.bridge_ip, "--target-mac", gw.mac)
    assert neighbour_mac(node, victim.ip) == pod_mac(attacker)  # the gap, shown
    agent.start()
    assert neighbour_mac(node, victim.ip) != pod_mac(attacker)
    repaired = [line for line in agent.lines() if line.get("msg", "").startswith("neighbour entry pointed")]
    assert repaired and repaired[0]["address"] == victim.ip, agent.lines()[-10:]
    attack(attacker, "arp-poison", "--victim-ip", victim.ip, "--target-ip", node.bridge_ip, "--target-mac", gw.mac)
    assert neighbour_mac(node, victim.ip) != pod_mac(attacker)
    assert probe(victim, "tcp4")["body"]["cgroup_id"] == victim.cgroup_id()


def test_uninstall_detaches_the_frame_hooks(node, agent):
    pod = node.add_pod("pod-a")
    agent.kill(signal.SIGTERM)  # a clean stop leaves them attached...
    with FabricSniffer(node, TARGETS) as sniff:
        frames_to_targets(node, pod, pod.ip)
    assert sniff.frames_not_from(node.uplink_ip) == [], sniff.frames
    assert agent.uninstall().returncode == 0  # ...only uninstall removes them
    assert not agent.pins.exists()
    with FabricSniffer(node, TARGETS) as sniff:
        frames_to_targets(node, pod, pod.ip)
    assert len(sniff.frames_from(pod.ip)) >= 7, sniff.frames


def test_an_agent_started_with_the_hooks_off_removes_them(node, agent):
    pod = node.add_pod("pod-a")
    agent.kill(signal.SIGTERM)
    agent.extra = ["--host-hooks", "off"]
    agent.start()
    status, ready = agent.ops_get("/readyz")
    assert status == 200 and "frame hooks: off" in ready, ready
    assert agent.metric("podid_bpf_host_hook", hook="pod_interfaces") == 0
    assert [l for l in agent.lines() if l.get("msg") == "frame hooks removed (--host-hooks off)"]
    with FabricSniffer(node, TARGETS) as sniff:
        frames_to_targets(node, pod, pod.ip)
    assert len(sniff.frames_from(pod.ip)) >= 7, sniff.frames


# ---- other traffic untouched ---------------------------------------------------------------------------------
def test_pods_traffic_that_is_not_to_a_target_is_untouched(layout_node, layout_agent):
    node = layout_node
    a, b = node.add_pod("pod-a"), node.add_pod("pod-b")
    node.add_fabric_address("10.224.7.7/32")
    port = free_port(node, node.agent_addr)
    fabric = node.fabric_popen(["/usr/bin/python3", "-c", STAND_IN_SERVER, "10.224.7.7", str(port)],
                               stdout=subprocess.PIPE, text=True)
    assert fabric.stdout.readline().strip() == "ready"
    peer = b.popen(["/usr/bin/python3", "-c", STAND_IN_SERVER, b.ip, str(port)], stdout=subprocess.PIPE, text=True)
    assert peer.stdout.readline().strip() == "ready"
    for pod, dst in ((a, "10.224.7.7"), (a, b.ip), (b, "10.224.7.7")):
        for mode in ("tcp4", "tcp6-mapped"):
            r = probe(pod, mode, addr=dst, port=port)
            assert r.get("status") == 200 and r["body"] == {"stand_in": True}, (pod.name, dst, mode, r)
    assert probe(a, "udp-sendto", addr=WIRESERVER, port=53)["ok"]  # Azure DNS stays open
    if node.network == "kubenet":  # IPv6 between pods (link-local): neighbour discovery both ways passes
        link_local(a)  # its own address out of duplicate address detection, so it can be a source
        server6 = b.popen(["/usr/bin/python3", "-c", "import socket; s=socket.socket(socket.AF_INET6); "
                           "s.bind(('::', 9999)); s.listen(1); print('ready', flush=True); c,_=s.accept(); "
                           "c.sendall(b'ok6')"], stdout=subprocess.PIPE, text=True)
        assert server6.stdout.readline().strip() == "ready"
        r = a.run(["/usr/bin/python3", "-c", "import socket,sys; s=socket.create_connection((sys.argv[1] + '%eth0', "
                   "9999), timeout=5); print(s.recv(8).decode())", link_local(b)], timeout=20)
        assert r.stdout.strip() == "ok6", r.stdout + r.stderr
    assert probe(a, "tcp4").get("status") == 200


# ---- one pod cannot fill the connection table (attack 4) -----------------------------------------------------
FLOOD = r'''
import errno, json, socket, sys
base, count = sys.argv[1], int(sys.argv[2])
out = {"in_progress": 0, "refused": 0, "other": []}
socks = []
for i in range(count):
    s = socket.socket(); s.setblocking(False)
    s.setsockopt(socket.SOL_IP, 19, 1)          # IP_TRANSPARENT: any source address (needs NET_RAW)
    s.bind((base.rsplit(".", 1)[0] + "." + str(100 + i % 100), 20000 + i))
    try:
        s.connect(("169.254.169.254", 80))
    except BlockingIOError:
        out["in_progress"] += 1; socks.append(s); continue
    except OSError as e:
        if e.errno == errno.EPERM: out["refused"] += 1
        else: out["other"].append(e.errno)
print(json.dumps(out), flush=True)
sys.stdin.readline()
'''


def test_one_pod_over_its_quota_is_refused_and_the_others_are_served(node, tmp_path):
    quota = 16
    with running_agent(node, tmp_path, extra=["--conn-quota-per-pod", str(quota)]) as agent:
        flooder, other = node.add_pod("flooder"), node.add_pod("other")
        flood = flooder.popen(["/usr/bin/python3", "-c", FLOOD, flooder.ip, "60"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
        try:
            result = json.loads(flood.stdout.readline())
            # Half-open from addresses nobody owns: the SYNs die at the pod's interface, the sockets hold slots.
            assert result == {"in_progress": quota, "refused": 60 - quota, "other": []}, result
            assert datapath(agent, "deny_conn_quota") == 60 - quota
            for _ in range(3):
                r = probe(other, "tcp4")
                assert r.get("status") == 200 and r["body"]["cgroup_id"] == other.cgroup_id(), r
            dump = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(agent.pinned_map("conn_ident"))],
                                  capture_output=True, text=True, check=True)
            assert len(json.loads(dump.stdout)) == quota
            event = denied(agent, "conn_quota")
            assert event and event[0]["cgroup_id"] == flooder.cgroup_id(), event
        finally:
            flood.stdin.close()
            flood.wait(timeout=30)
        # Its sockets closed, the pod gets its slots back.
        deadline = time.monotonic() + 5
        while probe(flooder, "tcp4").get("status") != 200:
            assert time.monotonic() < deadline, "the flooder's slots never came back"
            time.sleep(0.2)
