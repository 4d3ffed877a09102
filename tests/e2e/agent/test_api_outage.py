# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes API server goes away (connections refused, watches cut) and comes back: pods the agent
already knows keep getting tokens, the reachability gauge says what happened, and the watches resume."""
from __future__ import annotations

import time

from helpers import assert_token_for, bound_pod

from podid_harness.token_cluster import ARM_RESOURCE


def _wait_gauge(cluster, value: float, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = cluster.metric("podid_k8s_api_reachable")
        if got == value:
            return got
        time.sleep(0.2)
    return got


def test_known_pods_keep_their_tokens_while_the_api_is_down(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    assert cluster.metric("podid_k8s_api_reachable") == 1
    cluster.api.down()
    try:
        assert _wait_gauge(cluster, 0) == 0, "podid_k8s_api_reachable did not drop to 0"
        # Not only from the cache: a resource never asked before goes upstream while the API is down.
        assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
        status, _ = cluster.agent.ops_get("/healthz")
        assert status == 200
    finally:
        cluster.api.up()
    assert _wait_gauge(cluster, 1) == 1, "podid_k8s_api_reachable did not come back to 1"
    # The watches resumed: a pod created after the outage is served.
    later, (later_ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.wait_token(later), later_ident)
    watches = {l["watch"]: v for l, v in cluster.metric_series("podid_k8s_watch_connected")}
    assert watches and all(v == 1 for v in watches.values()), watches


def test_changes_made_during_the_outage_arrive_after_it(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    cluster.api.down()
    try:
        _wait_gauge(cluster, 0)
        cluster.set_assignment_state(pod, ident, "Unassigned")     # written while nobody can watch
    finally:
        cluster.api.up()
    assert _wait_gauge(cluster, 1) == 1
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = cluster.token(pod, resource=ARM_RESOURCE)
        if r.status != 200:
            break
        time.sleep(0.2)
    assert r.status != 200 and "access_token" not in r.body, str(r)
