# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus with deploy/prometheus/ scrapes a podid-agent on a simulated node and a podid-controller on
the emulators; the test makes known requests (served, not found, a pod sending from an address that is not its
own, a UDP attempt, a direct connection,
failing upstream calls, an identity ARM refuses) and checks every PromQL example of docs/metrics.md, the
shipped recording and alerting rules, and the targets the shipped relabeling keeps, against what it did.

Networks: the suite runs in a namespace of its own holding only loopback (ctest: scripts/in-isolated-netns).
The controller, its emulators and Prometheus listen on its 127.0.0.1; the simulated node is joined to it by one
veth pair on 192.0.2.0/30 (TEST-NET-1, routed nowhere), over which Prometheus scrapes the agent at the node's
address as it would in a cluster. Nothing has a route off the machine."""
from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podid_harness.agent_runner import PROBE, probe
from podid_harness.controller_cluster import CONTROLLER, NODE_RG, ControllerCluster
from podid_harness.privileged import require_root
from podid_harness.token_cluster import AGENT, VAULT, TokenCluster

from prometheus_server import REPO, Prometheus, kubernetes_sd_labels

METRICS_DOC = REPO / "docs" / "metrics.md"
SCRAPE_NET = ("192.0.2.1", "192.0.2.2")   # this namespace's end, the node's end
# The app's tokens from the cache before Prometheus first sees that series, and after; its first token came
# from upstream (a series of its own).
SERVED_BEFORE, SERVED_AFTER = 1, 7
NOT_FOUND_BEFORE, NOT_FOUND_AFTER = 1, 2
SPOOFS_BEFORE, SPOOFS_AFTER = 1, 1
ARM_REFUSED = ("LinkedAuthorizationFailed", "AuthorizationFailed")


def _only_loopback_here() -> bool:
    """This process's network namespace holds nothing but lo: it is the one scripts/in-isolated-netns made."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


@dataclass
class Stack:
    agent: TokenCluster
    controller: ControllerCluster
    prom: Prometheus
    node: str
    reader_client_id: str = ""
    app_last_sample: float = 0.0
    did: dict = field(default_factory=dict)


def _veth(node_netns: str) -> str:
    suffix = uuid.uuid4().hex[:6]
    here, there = f"pdp{suffix}", f"pdn{suffix}"
    subprocess.run(["ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", node_netns],
                   check=True)
    subprocess.run(["ip", "addr", "add", f"{SCRAPE_NET[0]}/30", "dev", here], check=True)
    subprocess.run(["ip", "link", "set", here, "up"], check=True)
    subprocess.run(["ip", "-n", node_netns, "addr", "add", f"{SCRAPE_NET[1]}/30", "dev", there], check=True)
    subprocess.run(["ip", "-n", node_netns, "link", "set", there, "up"], check=True)
    return here


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_root("the Prometheus end-to-end test")
    if not _only_loopback_here():
        pytest.fail("run through ctest or scripts/in-isolated-netns: this test adds a link to its own network "
                    "namespace, which must hold nothing else (never the machine's)", pytrace=False)
    for binary in (AGENT, CONTROLLER, PROBE):
        if not binary.exists():
            pytest.fail(f"{binary} is not built", pytrace=False)
    tmp = tmp_path_factory.mktemp("prometheus-e2e")
    with TokenCluster(tmp / "agent", mode="standard", agent_args=["--ops-listen", "0.0.0.0:0"]) as a, \
            ControllerCluster(tmp / "controller") as c:
        link = _veth(a.node.netns)
        try:
            ops_port = int(a.agent.serving["ops"].rsplit(":", 1)[1])
            pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
            good = c.add_identity("shop", "web-id")
            c.bind("shop", good, "web")
            norole = c.add_identity("shop", "norole-id", grant_operator=False)
            c.bind("shop", norole, "norole")
            controller = c.start_controller()
            c.wait_assigned(c.add_pod("shop", "web-0", pool.nodes[0], selector="web"), timeout=30)
            c.add_pod("shop", "norole-0", pool.nodes[0], selector="norole")

            targets = {
                "podid-agent": [
                    {"targets": [f"{SCRAPE_NET[1]}:{ops_port}"],
                     "labels": kubernetes_sd_labels("podid-system", "podid-agent-metrics", "metrics",
                                                    "podid-agent-x7k2p", a.node_name)},
                    # Endpoints the jobs must leave alone: another Service, another port of podid's.
                    {"targets": [f"{SCRAPE_NET[1]}:9153"],
                     "labels": kubernetes_sd_labels("kube-system", "kube-dns", "metrics", "coredns-0", a.node_name)},
                    {"targets": [f"{SCRAPE_NET[1]}:9"],
                     "labels": kubernetes_sd_labels("podid-system", "podid-agent-metrics", "debug",
                                                    "podid-agent-x7k2p", a.node_name)},
                ],
                "podid-controller": [
                    {"targets": [f"127.0.0.1:{controller.port}"],
                     "labels": kubernetes_sd_labels("podid-system", "podid-controller-metrics", "metrics",
                                                    "podid-controller-0", "aks-pool1-0")},
                ],
            }
            with Prometheus(tmp / "prometheus", targets) as prom:
                s = Stack(a, c, prom, a.node_name)
                _make_traffic(s)
                yield s
        finally:
            subprocess.run(["ip", "link", "del", link], capture_output=True)


def _spoof(a: TokenCluster, spoofer) -> None:
    """A request from a pod whose connection's source is not its address (the API gives it another one): what
    the agent sees of a pod sending with a stolen address. (A real IP_TRANSPARENT spoofer never completes the
    handshake: the answer goes to the address's owner, so it is never even counted.)"""
    r = a.token(spoofer)
    assert r.status == 403, str(r)


def _flaky_token(a: TokenCluster, pod, ident) -> None:
    a.imds.faults.add(500, count=1, path_regex=f"client_id={ident.client_id}")
    r = a.token(pod)
    assert r.status == 500, str(r)


def _make_traffic(s: Stack) -> None:
    a, prom, node = s.agent, s.prom, s.node
    reader = a.add_identity("shop", "reader")
    flaky = a.add_identity("shop", "flaky")
    a.bind("shop", "reader", reader, "reader")
    a.bind("shop", "flaky", flaky, "flaky")
    app = a.add_pod("app", "shop", binding="reader", settle=False)
    batch = a.add_pod("batch", "shop", binding="flaky", settle=False)
    intruder = a.add_pod("intruder", "shop", settle=False)
    spoofer = a.add_pod("spoofer", "shop", settle=False)
    a.assign(app, reader)
    a.assign(batch, flaky)
    a.api.patch("pods", spoofer.name, {"status": {"podIP": "10.244.1.250", "podIPs": [{"ip": "10.244.1.250"}]}},
                spoofer.namespace, subresource="status")
    a.settle()
    s.reader_client_id = reader.client_id

    def served() -> str:
        return f'podid_token_requests_total{{pod="app",result="served",source="cache",identity="{reader.client_id}"}}'

    def requests(served: int, not_found: int, spoofs: int) -> None:
        for _ in range(served):
            assert a.token(app).status == 200
        for _ in range(not_found):
            assert a.token(intruder).status == 400
        for _ in range(spoofs):
            _spoof(a, spoofer)
        assert probe(app, "udp-sendto")["errno"] != 0
        _flaky_token(a, batch, flaky)

    # Before: each per-pod series is created by its first event, so Prometheus must see it once before the
    # events the queries count (a counter's first sample is where increase() starts).
    assert a.token(app).status == 200        # the first: from IMDS
    requests(SERVED_BEFORE, NOT_FOUND_BEFORE, SPOOFS_BEFORE)
    prom.wait_value(served(), SERVED_BEFORE)
    prom.wait_value('podid_token_requests_total{pod="intruder",result="not_found"}', NOT_FOUND_BEFORE)
    prom.wait_value('podid_pod_resolution_failures_total{reason="source_ip_mismatch"}', SPOOFS_BEFORE)
    prom.wait_value('podid_bpf_deny_events_total{reason="udp_sendmsg",hook="sendmsg4"}', 1)
    prom.wait_value('podid_upstream_requests_total{upstream="imds",status="500"}', 1)

    # After.
    requests(SERVED_AFTER, NOT_FOUND_AFTER, SPOOFS_AFTER)
    # Under Azure Workload Identity's label, with a service account that names no client id: a federated failure.
    a.service_account("shop", "unannotated")
    wi = a.add_pod("wi", "shop", labels={"azure.workload.identity/use": "true"}, service_account="unannotated")
    assert a.token(wi).status == 400
    # Straight to the agent's address: no kernel record, refused at accept().
    direct = a.http(intruder, f"/metadata/identity/oauth2/token?api-version=2018-02-01&resource={VAULT}",
                    host=a.node.agent_addr, port=a.agent.port, client_timeout=2)
    assert direct.status == 403, str(direct)

    s.app_last_sample = prom.wait_value(served(), SERVED_BEFORE + SERVED_AFTER)
    prom.wait_value('podid_token_requests_total{pod="intruder",result="not_found"}', NOT_FOUND_BEFORE + NOT_FOUND_AFTER)
    prom.wait_value('podid_pod_resolution_failures_total{reason="source_ip_mismatch"}', SPOOFS_BEFORE + SPOOFS_AFTER)
    prom.wait_value('podid_bpf_deny_events_total{reason="udp_sendmsg",hook="sendmsg4"}', 2)
    prom.wait_value('podid_upstream_requests_total{upstream="imds",status="500"}', 2)
    prom.wait_value('podid_agent_connections_total{outcome="no_kernel_record"}', 1)
    prom.wait_value('podid_federated_failures_total{reason="service_account_not_annotated"}', 1)
    # The controller keeps retrying the identity ARM refuses: its error counter moves between scrapes.
    prom.wait(lambda: prom.query('increase(podid_controller_arm_errors_total[1m]) > 0'), 30,
              "ARM errors seen increasing")
    # Rules are evaluated every second: give them two rounds on the final data.
    time.sleep(2.5)


# ---- targets ---------------------------------------------------------------------------------------------------
def test_the_shipped_jobs_scrape_both_binaries_and_nothing_else(stack):
    data = stack.prom.api("targets")
    active = {(t["labels"]["job"], t["labels"]["instance"]): t for t in data["activeTargets"]}
    assert set(active) == {("podid-agent", stack.node), ("podid-controller", "podid-controller-0")}, active
    for t in active.values():
        assert t["health"] == "up", t
        assert not set(t["labels"]) - {"job", "instance"}, t["labels"]   # nothing that renames the agent's labels
    assert len(data["droppedTargets"]) == 2, data["droppedTargets"]
    assert stack.prom.query('up{job=~"podid-agent|podid-controller"} == 1').__len__() == 2


def test_per_pod_token_counts_are_the_requests_made(stack):
    got = stack.prom.query('podid_token_requests_total{namespace="shop"}')
    # Prometheus leaves out labels whose value is empty (source, for requests no token source saw).
    counts = {(m["pod"], m["result"], m.get("source", "")): v for m, v in got}
    assert counts == {("app", "served", "upstream"): 1,
                      ("app", "served", "cache"): SERVED_BEFORE + SERVED_AFTER,
                      ("intruder", "not_found", ""): NOT_FOUND_BEFORE + NOT_FOUND_AFTER,
                      ("wi", "not_found", ""): 1,
                      ("spoofer", "refused", ""): SPOOFS_BEFORE + SPOOFS_AFTER,
                      ("batch", "upstream_error", "upstream"): 2}, got
    for m, _ in got:
        if m["pod"] == "app":
            assert (m["identity"], m["resource"]) == (stack.reader_client_id, VAULT), m


# ---- every PromQL example of docs/metrics.md -----------------------------------------------------------------
def doc_queries() -> list[str]:
    return [" ".join(q.split()) for q in re.findall(r"```promql\n(.*?)```", METRICS_DOC.read_text(), re.S)]


def _labels(result, *names):
    return sorted(tuple(m.get(n) for n in names) for m, _ in result)


def _served_per_pod_today(s: Stack):
    # At the app's last sample: increase() extrapolates only towards the range's start, and never past the
    # counter's zero, so it counts the requests after the first sample plus at most the one that created it
    # (the upstream series, constant, adds nothing).
    got = s.prom.query(doc_queries()[0], at=s.app_last_sample)
    assert _labels(got, "namespace", "pod", "identity", "resource") == [("shop", "app", s.reader_client_id, VAULT)]
    assert SERVED_AFTER <= got[0][1] <= SERVED_AFTER + SERVED_BEFORE, got


def _new_today(s: Stack, q):
    got = s.prom.query(q)
    assert sorted((m["pod"], m["source"], v) for m, v in got) == [("app", "cache", SERVED_BEFORE + SERVED_AFTER),
                                                                   ("app", "upstream", 1)], got


def _refused_by_pod(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "namespace", "pod", "result") == [("shop", "batch", "upstream_error"),
                                                          ("shop", "intruder", "not_found"),
                                                          ("shop", "spoofer", "refused")], got
    # wi's one request created its series: a rate needs two samples, so it is not here.


def _kernel_denials(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "instance", "reason", "hook") == [(s.node, "udp_sendmsg", "sendmsg4")], got


def _not_through_kernel(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "instance", "outcome") == [(s.node, "no_kernel_record")], got


def _spoofers(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "instance") == [(s.node,)] and got[0][1] >= SPOOFS_AFTER, got


def _federated_failures(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "instance", "reason") == [(s.node, "service_account_not_annotated")], got


def _empty(why: str):
    def check(s: Stack, q):
        assert s.prom.query(q) == [], why
    return check


def _p99(s: Stack, q):
    got = s.prom.query(q)
    assert len(got) == 1 and 0 < got[0][1] < 1, got


def _upstream_errors(s: Stack, q):
    got = s.prom.query(q)
    assert _labels(got, "upstream", "status") == [("imds", "500")] and got[0][1] > 0, got


EXPECTED = {
    "sum by (namespace, pod, identity, resource) (increase(podid_token_requests_total{result=\"served\"}[1d])) > 0":
        lambda s, q: _served_per_pod_today(s),
    "podid_token_requests_total{result=\"served\"} unless podid_token_requests_total{result=\"served\"} offset 1d":
        _new_today,
    "sum by (namespace, pod, result) (rate(podid_token_requests_total{result!=\"served\"}[5m])) > 0":
        _refused_by_pod,
    "sum by (instance, reason, hook) (increase(podid_bpf_deny_events_total[1h])) > 0": _kernel_denials,
    "sum by (instance, outcome) (increase(podid_agent_connections_total{outcome!=\"attributed\"}[1h])) > 0":
        _not_through_kernel,
    "sum by (instance) (increase(podid_pod_resolution_failures_total{reason=\"source_ip_mismatch\"}[1h])) > 0":
        _spoofers,
    "sum by (namespace, pod) (rate(podid_token_requests_total[5m])) > 5 * avg_over_time(sum by (namespace, pod) "
    "(rate(podid_token_requests_total[5m]))[1d:1m])":
        _empty("steady requests from pods younger than a day are not a spike"),
    "podid_bpf_programs_attached == 0 or increase(podid_bpf_watchdog_failures_total[10m]) > 0":
        _empty("the programs are attached and the watchdog found nothing"),
    "podid_k8s_api_reachable == 0": _empty("every watch is healthy"),
    "histogram_quantile(0.99, sum by (le) (rate(podid_token_request_duration_seconds_bucket[5m])))": _p99,
    "sum by (upstream, status) (rate(podid_upstream_requests_total{status!=\"200\"}[5m]))": _upstream_errors,
    "sum by (instance, reason) (increase(podid_federated_failures_total[1h])) > 0": _federated_failures,
}


def test_every_documented_query_has_an_expectation_here():
    assert set(doc_queries()) == set(EXPECTED), \
        f"docs/metrics.md and this test disagree: {sorted(set(doc_queries()) ^ set(EXPECTED))}"


@pytest.mark.parametrize("query", sorted(EXPECTED))
def test_documented_query_answers_what_happened(stack, query):
    EXPECTED[query](stack, query)


# ---- the shipped rules ---------------------------------------------------------------------------------------
def test_rules_load_and_evaluate_without_errors(stack):
    groups = stack.prom.api("rules")["groups"]
    assert {g["name"] for g in groups} == {"podid.recording", "podid.agent", "podid.controller"}
    for g in groups:
        for r in g["rules"]:
            assert r["health"] == "ok", (r["name"], r.get("lastError"))


def test_recording_rules_record_the_traffic(stack):
    got = stack.prom.query('namespace_pod_identity_result:podid_token_requests:rate5m{pod="app"}')
    assert len(got) == 1 and got[0][1] > 0, got
    assert len(stack.prom.query("cluster:podid_token_request_duration_seconds:p99_5m")) == 1
    arm = stack.prom.query("operation_code:podid_controller_arm_requests:rate5m")
    assert {m["operation"] for m, _ in arm}, arm


def test_alerts_fire_for_what_happened_and_only_that(stack):
    alerts = stack.prom.api("alerts")["alerts"]
    firing = {(a["labels"]["alertname"], a["labels"].get("reason") or a["labels"].get("outcome")
               or a["labels"].get("code") or "") for a in alerts if a["state"] == "firing"}
    expected = {("PodidCallerRefused", "source_ip_mismatch"),
                ("PodidConnectionNotFromKernel", "no_kernel_record"),
                ("PodidMetadataBypassAttempt", "udp_sendmsg")}
    assert expected <= firing, json.dumps(alerts, indent=1)
    arm = {code for name, code in firing if name == "PodidControllerArmErrors"}
    assert arm and arm <= set(ARM_REFUSED), json.dumps(alerts, indent=1)
    names = {a["labels"]["alertname"] for a in alerts}
    assert not names & {"PodidKernelProgramsDetached", "PodidAgentNotReady", "PodidAgentKubernetesApiUnreachable",
                        "PodidControllerNoLeader"}, json.dumps(alerts, indent=1)
