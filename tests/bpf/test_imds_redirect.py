# SPDX-License-Identifier: Apache-2.0
"""The kernel path on a real kernel: pods' connections to 169.254.169.254 reach podid-agent, attributed to
the right cgroup whatever the process does; every other way to the target is refused; the node fails closed.

Each test builds its own simulated node (tests/harness/podid_harness/sim) with a stand-in answering
{"stand_in": true} at 169.254.169.254:80 behind the node's uplink, so "reached the stand-in" means "was not
redirected". Nothing can reach the real service: the node's fabric has no route off the machine.
"""
from __future__ import annotations

import errno
import json
import signal
import subprocess
import time

import pytest

from conftest import IMDS, PROBE, STAND_IN_SERVER, Agent, free_port, probe

EPERM = errno.EPERM


def assert_attributed(result: dict, pod) -> None:
    assert result.get("status") == 200, result
    body = result["body"]
    assert body["cgroup_id"] == pod.cgroup_id(), result
    assert pod.pod_cgroup_id() in [a["id"] for a in body["ancestor_cgroups"]], result
    assert body["cgroup_path"] == pod.cgroup_path(), result
    assert body["original_destination"] == f"{IMDS}:80", result


def assert_refused(result: dict, code: int = EPERM) -> None:
    assert not result["ok"] and result["errno"] == code, result


@pytest.mark.parametrize("mode", ["tcp4", "tcp6-mapped", "tfo", "io-uring", "mptcp"])
def test_every_tcp_path_is_redirected_and_attributed(node, agent, mode):
    pod = node.add_pod("pod-a")
    assert_attributed(probe(pod, mode), pod)


def test_two_pods_each_attributed_to_itself(node, agent):
    a = node.add_pod("pod-a", qos="burstable")
    b = node.add_pod("pod-b", namespace="team-b", qos="guaranteed")
    for _ in range(3):
        assert_attributed(probe(a, "tcp4"), a)
        assert_attributed(probe(b, "tcp4"), b)
    assert agent.metric("podid_agent_connections_total", outcome="attributed") == 6


def test_same_source_address_and_port_from_another_pod_is_never_attributed_to_the_victim(node, agent):
    victim = node.add_pod("victim")
    attacker = node.add_pod("attacker")
    port = 40000 + (victim.cgroup_id() % 20000)
    held = victim.popen([str(PROBE), "tcp4", "--addr", IMDS, "--port", "80", "--hold", "1",
                         "--bind", f"{victim.ip}:{port}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(held.stdout.readline())["held"] == 1
        # The attacker spoofs the victim's address and port (IP_FREEBIND needs no capability).
        spoof = probe(attacker, "tcp4", "--bind", f"{victim.ip}:{port}", "--freebind", "--timeout-ms", "1500")
        if spoof.get("status") == 200:
            assert spoof["body"]["cgroup_id"] == attacker.cgroup_id(), spoof
        held.stdin.write("go\n")
        held.stdin.flush()
        summary = json.loads(held.stdout.readline())
    finally:
        held.kill()
        held.wait()
    assert summary["cgroup_ids"] == {str(victim.cgroup_id()): 1}, summary


@pytest.mark.parametrize("mode,addr,port", [
    ("udp-connect", IMDS, 80),
    ("udp-sendto", IMDS, 80),
    ("udp6-mapped-sendto", IMDS, 80),
    ("udp-sendto", IMDS, 53),
    ("tcp4", IMDS, 8080),
    ("tcp6-mapped", IMDS, 443),
    ("tcp4", "168.63.129.16", 80),
    ("tcp4", "168.63.129.16", 32526),
    ("tcp6-mapped", "168.63.129.16", 32526),
    ("tcp6", "64:ff9b::a9fe:a9fe", 80),  # NAT64 form of 169.254.169.254
])
def test_other_ways_to_a_target_are_refused(node, agent, mode, addr, port):
    pod = node.add_pod("pod-a")
    assert_refused(probe(pod, mode, addr=addr, port=port))


def test_wireserver_dns_port_stays_open(node, agent):
    pod = node.add_pod("pod-a")
    udp = probe(pod, "udp-sendto", addr="168.63.129.16", port=53)
    assert udp["ok"], udp
    tcp = probe(pod, "tcp4", addr="168.63.129.16", port=53)
    assert_refused(tcp, errno.ECONNREFUSED)  # nothing listens there: the fabric's kernel, not podid, said no


def test_raw_socket_with_net_raw_is_dropped_at_egress(node, agent):
    pod = node.add_pod("pod-a")
    before = agent.metric("podid_bpf_datapath_total", outcome="egress_drop_raw")
    assert_refused(probe(pod, "raw", cap_net_raw=True))
    assert agent.metric("podid_bpf_datapath_total", outcome="egress_drop_raw") == before + 1


def test_refusals_are_audited_with_the_callers_cgroup(node, agent):
    pod = node.add_pod("pod-a")
    assert_refused(probe(pod, "udp-sendto"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        denied = [line for line in agent.lines() if line.get("msg") == "denied"]
        if denied:
            break
        time.sleep(0.05)
    assert denied, "no audit line for the refusal"
    assert denied[0]["cgroup_id"] == pod.cgroup_id()
    assert denied[0]["cgroup_path"] == pod.cgroup_path()
    assert (denied[0]["reason"], denied[0]["hook"], denied[0]["protocol"]) == ("udp_sendmsg", "sendmsg4", "udp")
    assert denied[0]["destination"] == f"{IMDS}:80"
    assert agent.metric("podid_bpf_deny_events_total", reason="udp_sendmsg", hook="sendmsg4") == 1


def test_traffic_to_other_addresses_is_untouched(node, agent):
    port = free_port(node, node.bridge_ip)
    server = node.popen(["/usr/bin/python3", "-c", STAND_IN_SERVER, node.bridge_ip, str(port)],
                        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        pod = node.add_pod("pod-a")
        for mode in ("tcp4", "tcp6-mapped"):
            r = probe(pod, mode, addr=node.bridge_ip, port=port)
            assert r.get("status") == 200 and r["body"] == {"stand_in": True}, r
        assert probe(pod, "udp-sendto", addr=node.bridge_ip, port=port)["ok"]
    finally:
        server.kill()
        server.wait()


def test_connection_without_kernel_record_gets_403(node, agent):
    pod = node.add_pod("pod-a")
    r = probe(pod, "tcp4", addr=node.agent_addr, port=agent.port)  # straight to the agent: not redirected
    assert r.get("status") == 403 and r["body"]["reason"] == "no_kernel_record", r
    assert agent.metric("podid_agent_connections_total", outcome="no_kernel_record") == 1


def test_the_agents_own_cgroup_reaches_the_real_target(node, agent):
    out = node.run([str(PROBE), "tcp4", "--addr", IMDS, "--port", "80"], cgroup=agent.cgroup, check=True)
    r = json.loads(out.stdout)
    assert r.get("status") == 200 and r["body"] == {"stand_in": True}, r
    assert agent.serving["self_cgroup_id"] == agent.cgroup.stat().st_ino


def test_own_cgroup_found_from_a_private_cgroup_namespace(node, tmp_path):
    import uuid
    cgroup = node.make_cgroup("podid-agent-ns", under_kubepods=True)
    a = Agent(node, tmp_path, f"podid-test-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr), cgroup)
    a.args = (lambda orig: (lambda: ["unshare", "--cgroup", "--", *orig()]))(a.args)
    try:
        serving = a.start()
        assert serving["self_cgroup_id"] == cgroup.stat().st_ino
        out = node.run([str(PROBE), "tcp4", "--addr", IMDS, "--port", "80"], cgroup=cgroup, check=True)
        assert json.loads(out.stdout).get("body") == {"stand_in": True}
    finally:
        a.kill()
        a.uninstall()


def test_dead_agent_fails_closed_and_a_new_one_takes_over_the_same_links(node, agent):
    pod = node.add_pod("pod-a")
    assert_attributed(probe(pod, "tcp4"), pod)
    first = {l["program"]: l for l in agent.serving["links"]}

    agent.kill(signal.SIGKILL)
    for mode in ("tcp4", "tcp6-mapped", "tfo"):
        assert_refused(probe(pod, mode), errno.ECONNREFUSED)  # never the stand-in
    assert_refused(probe(pod, "udp-sendto"))                  # deny paths still in force

    second = {l["program"]: l for l in agent.start()["links"]}
    assert all(second[p]["reused_link"] for p in first), second
    assert {p: l["link_id"] for p, l in first.items()} == {p: l["link_id"] for p, l in second.items()}
    assert all(second[p]["prog_id"] != first[p]["prog_id"] for p in first), "programs were not swapped"
    assert_attributed(probe(pod, "tcp4"), pod)

    agent.kill(signal.SIGTERM)  # a clean stop detaches nothing either
    assert_refused(probe(pod, "tcp4"), errno.ECONNREFUSED)


def test_uninstall_restores_direct_connections(node, agent):
    pod = node.add_pod("pod-a")
    agent.kill(signal.SIGTERM)
    out = agent.uninstall()
    assert out.returncode == 0, out.stderr
    assert not agent.pins.exists()
    r = probe(pod, "tcp4")
    assert r.get("status") == 200 and r["body"] == {"stand_in": True}, r
    assert probe(pod, "udp-sendto")["ok"]


def test_flood_that_fills_conn_ident_is_refused_not_misattributed_and_drains(node, tmp_path):
    import uuid
    table = 16
    cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
    a = Agent(node, tmp_path, f"podid-test-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr), cgroup,
              extra=["--conn-table-size", str(table)])
    a.start()
    pod = node.add_pod("pod-a")
    other = node.add_pod("pod-b")
    flood = 40
    try:
        a.proc.send_signal(signal.SIGSTOP)  # nothing consumes: connections queue, records pile up
        held = pod.popen([str(PROBE), "tcp4", "--addr", IMDS, "--port", "80", "--hold", str(flood)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(held.stdout.readline()) == {"held": flood, "connect_failed": 0}
        a.proc.send_signal(signal.SIGCONT)
        held.stdin.write("go\n")
        held.stdin.flush()
        summary = json.loads(held.stdout.readline())
        held.wait(timeout=30)
        # Record-less connections are refused at accept: a 403 for the first kMaxRefusedPerSource (16) a source
        # has in flight, a bare close for the rest. None is served, none misattributed.
        refused = flood - table
        answered = min(refused, 16)
        assert summary["statuses"] == {"200": table, "403": answered, **({"0": refused - answered} if refused > answered else {})}, summary
        assert summary["cgroup_ids"] == {str(pod.cgroup_id()): table}, summary
        assert a.metric("podid_bpf_datapath_total", outcome="conn_map_full") == refused
        assert a.metric("podid_agent_connections_total", outcome="no_kernel_record") == answered
        assert a.metric("podid_agent_connections_total", outcome="source_over_cap") == refused - answered
        # Drained: the next caller, from another pod, is served and attributed to itself.
        assert_attributed(probe(other, "tcp4"), other)
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(a.pinned_map("conn_ident"))],
                              capture_output=True, text=True, check=True)
        assert json.loads(dump.stdout) == []
    finally:
        if a.proc and a.proc.poll() is None:
            a.proc.send_signal(signal.SIGCONT)
        a.kill()
        a.uninstall()


def test_native_ipv6_target_without_an_agent_ipv6_address_is_refused(node, tmp_path):
    import uuid
    from conftest import AGENT  # noqa: F401
    cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
    targets = ["redirect:tcp:169.254.169.254:80", "deny:any:169.254.169.254:0", "redirect:tcp:[fd00:ec2::254]:80"]
    extra = [x for t in targets for x in ("--target", t)]
    a = Agent(node, tmp_path, f"podid-test-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr), cgroup, extra)
    a.start()
    try:
        pod = node.add_pod("pod-a")
        assert_refused(probe(pod, "tcp6", addr="fd00:ec2::254", port=80))
        assert a.metric("podid_bpf_datapath_total", outcome="deny_no_agent6") == 1
        assert_attributed(probe(pod, "tcp4"), pod)
    finally:
        a.kill()
        a.uninstall()


def test_an_older_versions_pins_are_retired_once_this_versions_are_attached(node, tmp_path):
    """An upgrade across an ABI change: the new agent attaches its own links (v2), then removes the pins of any
    other version, whose programs would otherwise keep running beside its own."""
    import uuid
    cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
    a = Agent(node, tmp_path, f"podid-test-{uuid.uuid4().hex[:8]}", free_port(node, node.agent_addr), cgroup)
    old = a.pins / "v1"
    (old / "links").mkdir(parents=True)
    (old / "maps").mkdir()
    subprocess.run(["bpftool", "map", "create", str(old / "maps" / "cfg"), "type", "array", "key", "4", "value", "40",
                    "entries", "1", "name", "cfg"], check=True)
    try:
        a.start()
        assert not old.exists(), sorted(p.name for p in a.pins.iterdir())
        retired = [l for l in a.lines() if l.get("msg") == "older version's kernel programs removed"]
        assert retired and str(old / "maps" / "cfg") in retired[0]["removed"], retired
        pod = node.add_pod("pod-a")
        assert_attributed(probe(pod, "tcp4"), pod)
    finally:
        a.kill()
        a.uninstall()
