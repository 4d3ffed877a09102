# SPDX-License-Identifier: Apache-2.0
"""Issue 12's attacks against the whole token path: a pod holding NET_RAW (containerd's default) with hand-made
frames (podid_harness/sim/attacker.py) on the kubenet node of a TokenCluster, the real agent, the IMDS emulator
behind the node's uplink. What must hold: no token of another identity, nothing from a pod reaches the metadata
service (a sniffer in the fabric), the refusals named in the audit log, and an app pod on the same node keeps
getting its own token throughout. tests/bpf/test_frame_attacks.py shows each attack succeeding without the
frame hooks.
"""
from __future__ import annotations

import signal
import time

from podid_harness.agent_runner import IMDS
from podid_harness.sim.attacks import FabricSniffer, attack, finish_attack, gateway, pod_mac, start_attack
from podid_harness.token_cluster import ARM_RESOURCE, VAULT, token_path

from helpers import assert_no_token, assert_token_for, bound_pod

WIRESERVER = "168.63.129.16"


def served_since(cluster, before: int) -> list[dict]:
    return [line for line in cluster.audit_lines()[before:] if line.get("decision") == "served"]


def victim_and_attacker(cluster, uniq):
    """A bound victim that has already talked (it knows the gateway's MAC and sends no ARP request that would
    set the node right) and an unbound attacker pod in another namespace, with the attacker's gateway."""
    victim, (ident,) = bound_pod(cluster, uniq)
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    assert_token_for(cluster.token(victim), ident)
    return victim, ident, attacker, gateway(cluster.node, attacker)


def test_arp_takeover_of_a_victims_connection_gets_nothing(cluster, uniq):
    victim, ident, attacker, gw = victim_and_attacker(cluster, uniq)
    audit_before = len(cluster.audit_lines())
    stolen_path = token_path(ARM_RESOURCE, client_id=ident.client_id)
    takeover = start_attack(attacker, "arp-takeover", "--gw-mac", gw.mac, "--gateway-ip", cluster.node.bridge_ip,
                            "--victim-ip", victim.ip, "--agent", cluster.node.agent_addr,
                            "--port", str(cluster.agent.port), "--seconds", "5", "--path", stolen_path)
    time.sleep(0.3)
    for _ in range(8):  # the app pod keeps getting its own token throughout
        assert_token_for(cluster.token(victim), ident)
    stolen = finish_attack(takeover)
    assert stolen["saw_syn_ack"] is False and stolen["status"] is None, stolen
    served = served_since(cluster, audit_before)
    assert served and all(line["resource"] == VAULT for line in served), served  # never the attacker's request
    assert all(e.query.get("resource") != ARM_RESOURCE for e in cluster.imds_token_requests())
    assert cluster.metric("podid_bpf_datapath_total", outcome="spoof_arp") > 0


def test_arp_man_in_the_middle_reads_nothing_of_the_victims_tokens(cluster, uniq):
    victim, ident, attacker, gw = victim_and_attacker(cluster, uniq)
    mitm = start_attack(attacker, "arp-mitm", "--gw-mac", gw.mac, "--gateway-ip", cluster.node.bridge_ip,
                        "--victim-ip", victim.ip, "--victim-mac", pod_mac(victim), "--seconds", "4")
    time.sleep(0.3)
    for _ in range(6):
        assert_token_for(cluster.token(victim), ident)
    seen = finish_attack(mitm)
    assert seen["frames_with_marker"] == 0 and seen["relayed"] == 0, seen
    assert cluster.metric("podid_bpf_datapath_total", outcome="spoof_arp") > 0


def test_raw_frames_to_imds_get_no_identity(cluster, uniq):
    victim, ident, attacker, gw = victim_and_attacker(cluster, uniq)
    spare = str(cluster.node.pod_cidr.network_address + 250)
    upstream_before = len(cluster.imds_token_requests())
    with FabricSniffer(cluster.node, [IMDS, WIRESERVER]) as sniff:
        for src, claim in ((spare, ["--claim"]), (attacker.ip, [])):
            for path in (token_path(VAULT, client_id=ident.client_id), token_path(ARM_RESOURCE)):
                r = attack(attacker, "handshake", "--gw-mac", gw.mac, "--src", src, *claim, "--dst", IMDS,
                           "--dport", "80", "--path", path, "--timeout", "1")
                assert r["syn_ack"] is False and r["status"] is None, r
        attack(attacker, "frames-to-target", "--gw-mac", gw.mac, "--src", attacker.ip, "--dst", IMDS, "--dport", "80")
        assert_token_for(cluster.token(victim), ident)  # the agent's own upstream call still leaves by the uplink
    assert sniff.frames_not_from(cluster.node.uplink_ip) == [], sniff.frames
    assert len(cluster.imds_token_requests()) <= upstream_before + 1
    assert all(e.query.get("resource") != ARM_RESOURCE for e in cluster.imds_token_requests())


def test_forged_source_towards_the_agent_gets_no_token(cluster, uniq):
    victim, (ident,) = bound_pod(cluster, uniq)
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    audit_before = len(cluster.audit_lines())
    for sport in (40001, 40002):
        r = attack(attacker, "spoof-syn", "--gw-mac", gateway(cluster.node, attacker).mac, "--src", victim.ip,
                   "--sport", str(sport), "--dst", cluster.node.agent_addr, "--dport", str(cluster.agent.port),
                   "--path", token_path(VAULT, client_id=ident.client_id), "--timeout", "1")
        assert r["syn_ack"] is False and r["status"] is None, r
    assert served_since(cluster, audit_before) == []
    denied = [line for line in cluster.agent.lines() if line.get("msg") == "denied" and line.get("reason") == "spoof_ip"]
    assert denied and denied[-1]["interface"] == attacker.host_link and denied[-1]["source"] == victim.ip, denied[-3:]


def test_host_network_pod_frames_never_reach_imds(cluster, uniq):
    victim, (ident,) = bound_pod(cluster, uniq)
    hostnet = cluster.add_pod(uniq("hostnet"), uniq("ns"), host_network=True)
    node = cluster.node
    gw = gateway(node, hostnet)
    with FabricSniffer(node, [IMDS, WIRESERVER]) as sniff:
        for path in (token_path(VAULT, client_id=ident.client_id), token_path(ARM_RESOURCE)):
            r = attack(hostnet, "handshake", "--iface", node.uplink, "--gw-mac", gw.mac, "--src", "10.224.0.99",
                       "--claim", "--sport", "31337", "--dst", IMDS, "--dport", "80", "--path", path, "--timeout", "1")
            assert r["syn_ack"] is False and r["status"] is None, r
        assert attack(hostnet, "qdisc-bypass", "--iface", node.uplink)["refused"] is True
        assert_token_for(cluster.token(victim), ident)
        assert_no_token(cluster.token(hostnet, client_id=ident.client_id))  # its own connections: redirected
    assert [f for f in sniff.frames if f.get("sport") == 31337 or f["src"] == "10.224.0.99"] == [], sniff.frames
    assert cluster.metric("podid_bpf_datapath_total", outcome="uplink_drop") > 0


def test_agent_killed_mid_attack_nothing_reaches_imds(cluster, uniq):
    victim, ident, attacker, gw = victim_and_attacker(cluster, uniq)
    spare = str(cluster.node.pod_cidr.network_address + 251)
    with FabricSniffer(cluster.node, [IMDS, WIRESERVER]) as sniff:
        running = start_attack(attacker, "handshake", "--gw-mac", gw.mac, "--src", spare, "--claim", "--dst", IMDS,
                               "--dport", "80", "--path", token_path(ARM_RESOURCE), "--timeout", "3")
        time.sleep(0.2)
        cluster.agent.kill(signal.SIGKILL)
        r = attack(attacker, "handshake", "--gw-mac", gw.mac, "--src", attacker.ip, "--dst", IMDS, "--dport", "80",
                   "--path", token_path(VAULT), "--timeout", "1")
        assert r["syn_ack"] is False, r
        assert finish_attack(running)["syn_ack"] is False
        assert_no_token(cluster.token(victim))  # no agent: refused, never passed to the node's IMDS
        cluster.start_agent()
        assert_token_for(cluster.wait_token(victim), ident)
    assert sniff.frames_not_from(cluster.node.uplink_ip) == [], sniff.frames
