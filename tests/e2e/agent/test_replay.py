# SPDX-License-Identifier: Apache-2.0
"""Answers given again on a keep-alive connection (agent/serve/token_replay.h): an SDK that reuses its connection
asks the same bytes again and again, and the server answers from the last decision while nothing it was made
from has changed. Here, from inside a pod over one connection: each answer is still audited and counted, and any
change to the pod, its binding, its identity or its second makes the next answer a new decision."""
from __future__ import annotations

import time

from helpers import assert_no_token, assert_token_for, bound_pod

from podid_harness.token_cluster import VAULT

TOKEN = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT


def at_the_start_of_a_second() -> None:
    """A replay also ends with its wall-clock second, which would hide a change the replay missed: the tests that
    change something start just after a second begins, so that change and next request fall in that second."""
    time.sleep(1.02 - time.time() % 1)


def same_second(cluster, pod, count: int) -> bool:
    """The last `count` audited decisions of `pod` were all made within one wall-clock second."""
    lines = [l for l in cluster.audit_lines() if l.get("pod") == pod.name][-count:]
    return len(lines) == count and len({int(l["ts"]) for l in lines}) == 1


def test_the_same_request_on_one_connection_is_answered_again_and_audited_each_time(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    replays_before = cluster.metric("podid_token_replays_total")
    upstream_before = len(cluster.imds_token_requests())
    with cluster.connect(pod) as conn:
        answers = [conn.request(TOKEN) for _ in range(20)]
    for r in answers:
        assert_token_for(r, ident)
    # The first is decided (an upstream call), later ones mostly replayed; a second boundary crossed during the
    # loop makes one of them a fresh decision, so at least most of the 19 are replays.
    assert len(cluster.imds_token_requests()) - upstream_before == 1
    replays = cluster.metric("podid_token_replays_total") - replays_before
    assert 10 <= replays <= 19, replays
    mine = [l for l in cluster.audit_lines() if l.get("pod") == pod.name and l.get("decision") == "served"]
    assert len(mine) == 20, mine  # one line per request, replayed or not (written before each answer)
    assert {(l["client_id"], l["resource"], l["reason"], l["source"]) for l in mine[1:]} == {
        (ident.client_id, VAULT, "bound", "cache")}
    assert cluster.metric("podid_token_requests_total", namespace=pod.namespace, pod=pod.name,
                          identity=ident.client_id, resource=VAULT, result="served", source="upstream") == 1
    assert cluster.metric("podid_token_requests_total", namespace=pod.namespace, pod=pod.name,
                          identity=ident.client_id, resource=VAULT, result="served", source="cache") == 19


def test_a_removed_binding_ends_the_replay_on_an_open_connection(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    with cluster.connect(pod) as conn:
        assert_token_for(conn.request(TOKEN), ident)  # the upstream call, outside the timed part
        at_the_start_of_a_second()
        assert_token_for(conn.request(TOKEN), ident)
        cluster.unassign(pod, ident)
        for binding in cluster.api.list("azureidentitybindings.aadpodidentity.k8s.io", pod.namespace):
            cluster.unbind(pod.namespace, binding["metadata"]["name"])
        cluster.settle(extra_s=0.15)
        assert_no_token(conn.request(TOKEN))
    assert same_second(cluster, pod, 2), "change and request took longer than a second: retry on a quieter machine"


def test_a_retargeted_identity_is_served_at_once_on_an_open_connection(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    new = cluster.retarget_identity(ident)  # the new identity's first token is fetched before the timed part
    cluster.refresh_assignment(pod, ident)
    cluster.settle()
    assert_token_for(cluster.token(pod), new)
    with cluster.connect(pod) as conn:
        assert_token_for(conn.request(TOKEN), new)
        # Back to the first identity (its token still cached), within one second of the last answer.
        at_the_start_of_a_second()
        assert_token_for(conn.request(TOKEN), new)
        cluster.api.patch("azureidentities.aadpodidentity.k8s.io", ident.name,
                          {"spec": {"clientID": ident.client_id, "resourceID": ident.resource_id}}, ident.namespace)
        cluster.refresh_assignment(pod, ident)
        cluster.settle(extra_s=0.15)
        assert_token_for(conn.request(TOKEN), ident)
    assert same_second(cluster, pod, 2), "change and request took longer than a second: retry on a quieter machine"


def test_expires_in_keeps_counting_down_on_an_open_connection(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    with cluster.connect(pod) as conn:
        first = conn.request(TOKEN)
        time.sleep(2.1)
        later = conn.request(TOKEN)
    assert_token_for(first, ident)
    assert_token_for(later, ident)
    assert int(first.json()["expires_in"]) - int(later.json()["expires_in"]) >= 2, (first.body, later.body)
