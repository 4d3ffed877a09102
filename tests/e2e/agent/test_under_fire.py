# SPDX-License-Identifier: Apache-2.0
"""The agent killed, upgraded, uninstalled and stopped while pods ask for tokens at ~2,000 requests/s (issue 16,
"Kills and upgrades under load").

Pods run bench-pod-load (bench/pod_load.cpp): open loop, keep-alive connections reopened every 50 answers, every
answer checked for the pod's own identity and for podid's Server header. Meanwhile the agent is:
  1. SIGKILLed every 5 s and started again at once (KILLS times);
  2. upgraded: SIGTERM, then a copy of its binary started on the same pins, which swaps the programs in the
     pinned links (BPF_LINK_UPDATE: same link ids, new program ids), twice;
  3. uninstalled (`podid-agent uninstall` removes every pin) and started again;
  4. stopped with SIGTERM while requests that wait on a slow upstream are being served.
Asserted: no pod's request ever reached the IMDS stand-in (its log records each request's source) except the
one the test makes on purpose while podid is uninstalled (the detector's positive control), no answer carried
another identity or came from anything but the agent, no answer was cut once begun, and the requests in flight
at SIGTERM got their tokens. Printed, not asserted: the time from each kill to the next served token (p50, p99,
max), from each upgrade's SIGTERM to the next token, and the answers of each phase.

The load stops while podid is uninstalled: uninstall removes the redirect on purpose, so pods reach the node's
IMDS until an agent is installed again; that window is for an operator removing podid, not a fault.
"""
from __future__ import annotations

import shutil
import signal
import statistics
import threading
import time

from helpers import assert_token_for

from podid_harness.pod_load import LoadGroup, PodLoad, Tally
from podid_harness.token_cluster import token_path

PODS, IDENTITIES = 10, 5
RATE = 2000                       # requests/s from all pods together
KILLS, KILL_EVERY_S = 6, 5.0
SLOW_RESOURCE = "https://storage.azure.com/"
SLOW_UPSTREAM_S = 2.0             # the upstream's delay for SLOW_RESOURCE: shorter than the 5 s drain
NS = "fire"


def start_load(c, pods) -> LoadGroup:
    return LoadGroup([PodLoad.start(pod, token_path(), rate=RATE / len(pods), seconds=300, connections=4,
                                    expect_client_id=ident.client_id, requests_per_connection=50,
                                    timeout_ms=5000)
                      for pod, ident in pods])


def next_token_after(t_ns: int, recoveries: list[tuple[int, int]]) -> float | None:
    """Seconds from t_ns to the first good token any pod got after failing since then."""
    later = [ok for ok, failed_since in recoveries if ok > t_ns and failed_since >= t_ns - 50_000_000]
    return (min(later) - t_ns) / 1e9 if later else None


def spread(xs: list[float]) -> str:
    if not xs:
        return "none"
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
    return (f"p50 {statistics.median(xs) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {xs[-1] * 1000:.0f} ms "
            f"(n={len(xs)})")


def describe(t: Tally) -> str:
    kinds = ", ".join(f"{n} x {k[:60]}" for k, n in sorted(t.answers.items(), key=lambda kv: -kv[1]))
    gone = ", ".join(f"{n} {k}" for k, n in sorted(t.transport.items())) or "none"
    return f"{t.sent} sent; answers: {kinds}; no answer: {gone}"


def links_of(agent) -> dict:
    return {link["program"]: link for link in agent.serving["links"]}


def test_kills_upgrades_and_uninstall_under_load(cluster, tmp_path, capsys):
    c = cluster
    idents = [c.add_identity(NS, f"id-{i}") for i in range(IDENTITIES)]
    for i, ident in enumerate(idents):
        c.bind(NS, f"bind-{i}", ident, f"sel-{i}")
    pods = []
    for j in range(PODS):
        ident = idents[j % IDENTITIES]
        pod = c.add_pod(f"load-{j}", NS, binding=f"sel-{j % IDENTITIES}", settle=False)
        c.assign(pod, ident)
        pods.append((pod, ident))
    c.settle()
    for pod, ident in pods:
        assert_token_for(c.wait_token(pod), ident)
    pod_ips = {pod.ip for pod, _ in pods}
    figures: list[str] = []

    # 1 and 2: kills and upgrades.
    load = start_load(c, pods)
    kills, upgrades, to_serving = [], [], []
    wall_minus_mono = time.time() - time.monotonic()
    try:
        time.sleep(2)
        for _ in range(KILLS):
            t_kill = time.monotonic_ns()
            c.agent.kill(signal.SIGKILL)
            c.start_agent()
            kills.append(t_kill)
            to_serving.append(c.agent.serving["ts"] - wall_minus_mono - t_kill / 1e9)
            time.sleep(max(0.0, KILL_EVERY_S - (time.monotonic_ns() - t_kill) / 1e9))
        copy = tmp_path / "podid-agent-next"
        shutil.copy2(c.agent.binary, copy)
        for binary in (copy, c.agent.binary):
            before = links_of(c.agent)
            t_stop = time.monotonic_ns()
            c.agent.kill(signal.SIGTERM)
            c.agent.binary = binary
            c.start_agent()
            upgrades.append(t_stop)
            after = links_of(c.agent)
            assert all(after[p]["reused_link"] for p in before), after
            assert {p: before[p]["link_id"] for p in before} == {p: after[p]["link_id"] for p in before}
            assert all(after[p]["prog_id"] != before[p]["prog_id"] for p in before), "programs not swapped"
            time.sleep(KILL_EVERY_S)
    finally:
        first = load.finish()
    recoveries = load.recoveries()
    figures.append(f"kills: {describe(first)}")

    # 3: uninstall, then install again, the load paused meanwhile.
    c.agent.kill(signal.SIGTERM)
    out = c.agent.uninstall()
    assert out.returncode == 0, out.stdout + out.stderr
    control_from = time.monotonic()
    direct = c.token(pods[0][0])     # nothing redirects now: the stand-in answers, and logs the pod's address
    control_to = time.monotonic()
    assert direct.status == 200, str(direct)
    assert c.imds.log.entries(sources=pod_ips)[-1].t >= control_from, "the stand-in did not log the pod"
    c.start_agent()
    assert not any(link["reused_link"] for link in c.agent.serving["links"]), c.agent.serving["links"]

    # 4: SIGTERM while requests wait on a slow upstream; the load goes on around them.
    load = start_load(c, pods)
    try:
        time.sleep(2)
        c.imds.faults.add(delay_s=SLOW_UPSTREAM_S, count=None, path_regex=r"storage\.azure\.com")
        slow = [PodLoad.start(pod, token_path(SLOW_RESOURCE), rate=10, requests=1, connections=1,
                              expect_client_id=ident.client_id) for pod, ident in pods]
        deadline = time.monotonic() + 5
        while c.metric("podid_token_fetches_in_flight") < IDENTITIES and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.metric("podid_token_fetches_in_flight") == IDENTITIES
        t_term = time.monotonic()
        stopper = threading.Thread(target=c.agent.kill, args=(signal.SIGTERM,))
        stopper.start()
        slow_total = LoadGroup(slow).finish(timeout=15, terminate=False)
        stopper.join(timeout=15)
        drained_s = time.monotonic() - t_term
        assert c.agent.proc.returncode == 0, c.agent_log()
        assert not [l for l in c.agent.lines() if l.get("msg") == "stopping with requests unanswered"]
        time.sleep(1)
        c.start_agent()
        time.sleep(2)
    finally:
        second = load.finish()
    figures.append(f"uninstall and SIGTERM: {describe(second)}")
    figures.append(f"requests in flight at SIGTERM: {describe(slow_total)}; the agent exited after "
                   f"{drained_s:.1f} s")

    leaked = [e for e in c.imds.log.entries(sources=pod_ips) if not control_from <= e.t <= control_to]
    to_token = [next_token_after(t, recoveries) for t in kills]
    after_upgrade = [next_token_after(t, recoveries) for t in upgrades]
    with capsys.disabled():
        print(f"\nunder fire, {RATE} requests/s asked from {PODS} pods over {IDENTITIES} identities:")
        for line in figures:
            print(f"  {line}")
        print(f"  SIGKILL -> next token served: {spread([t for t in to_token if t is not None])}")
        print(f"    of which SIGKILL -> the new agent's 'serving' line: {spread(to_serving)}")
        print(f"  upgrade (SIGTERM, copy started) -> next token: {spread([t for t in after_upgrade if t is not None])}")

    total = Tally().add(first).add(second).add(slow_total)
    assert leaked == [], f"{len(leaked)} requests from pods reached the IMDS stand-in, e.g. {leaked[:3]}"
    assert total.wrong_identity == 0, describe(total)
    assert total.not_from_agent == 0, describe(total)
    assert total.transport["cut_mid_answer"] == 0, describe(total)
    assert slow_total.ok == PODS, f"requests in flight at SIGTERM: {describe(slow_total)}"
    # A restarting agent tells bound pods to retry (404) until it has listed the cluster, never "Identity not
    # found" (400), which SDKs take as final.
    assert not [k for k in total.answers if not k.startswith(("200", "404 "))], describe(total)
    # The load ran: most requests got their token (the agent was down for a small part of the time).
    assert first.ok > first.sent / 2 and second.ok > second.sent / 2, (describe(first), describe(second))
    assert all(t is not None for t in to_token), f"a kill was never followed by a token: {to_token}"
