# SPDX-License-Identifier: Apache-2.0
"""The node's IMDS (the agent's upstream) throttles or fails: pods get answers an IMDS client understands, the
agent honours Retry-After instead of hammering IMDS, and one upstream call serves every pod of an identity."""
from __future__ import annotations

import time

from helpers import assert_no_token, assert_token_for, bound_pod, json_error

from podid_harness.token_cluster import ARM_RESOURCE


def _upstream(cluster, ident) -> list:
    return [e for e in cluster.imds_token_requests() if e.query.get("client_id") == [ident.client_id]]


def test_upstream_429_with_retry_after_is_passed_on_and_honoured(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    cluster.imds.faults.add(429, retry_after=3, count=1, path_regex=ident.client_id)
    r = cluster.token(pod)
    assert r.status == 429, str(r)
    assert_no_token(r)
    json_error(r)
    assert 1 <= int(r.headers.get("retry-after", "0")) <= 3, r.headers
    assert len(_upstream(cluster, ident)) == 1
    # Inside the window: answered from what the agent remembers, without asking IMDS again.
    for _ in range(3):
        again = cluster.token(pod)
        assert again.status == 429 and "retry-after" in again.headers, str(again)
    assert len(_upstream(cluster, ident)) == 1, [e.raw_path for e in _upstream(cluster, ident)]
    time.sleep(3.2)
    assert_token_for(cluster.token(pod), ident)
    calls = _upstream(cluster, ident)
    assert len(calls) == 2 and calls[1].t - calls[0].t >= 2.9, [(e.t, e.status) for e in calls]


def test_upstream_500_is_passed_on_then_recovers(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    fault = cluster.imds.faults.add(500, count=None, path_regex=ident.client_id)
    try:
        r = cluster.token(pod)
        assert r.status == 500, str(r)
        assert_no_token(r)
        assert json_error(r)["error"], str(r)
        assert r.elapsed_ms < 15000, str(r)
    finally:
        fault.count = fault.hits       # spent: no more 500s
    calls = len(_upstream(cluster, ident))
    assert 1 <= calls <= 5, f"{calls} upstream calls for one pod request"
    assert_token_for(cluster.token(pod), ident)


def test_upstream_unreachable_is_a_retryable_answer(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    fault = cluster.imds.faults.add(reset=True, count=None, path_regex=ident.client_id)
    try:
        r = cluster.token(pod)
        assert r.status in (502, 503, 504), str(r)
        assert_no_token(r)
        json_error(r)
    finally:
        fault.count = fault.hits
    assert_token_for(cluster.token(pod), ident)


def test_one_upstream_call_per_identity_and_resource_for_many_pods(cluster, uniq):
    ns = uniq("ns")
    ident = cluster.add_identity(ns, uniq("id"))
    selector = uniq("sel")
    cluster.bind(ns, uniq("bind"), ident, selector)
    pods = [cluster.add_pod(uniq("pod"), ns, binding=selector, settle=False) for _ in range(4)]
    for p in pods:
        cluster.assign(p, ident)
    cluster.settle()
    for p in pods:
        assert_token_for(cluster.token(p), ident)
        assert_token_for(cluster.token(p, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
    resources = sorted(e.query["resource"][0] for e in _upstream(cluster, ident))
    assert resources == sorted(["https://vault.azure.net", ARM_RESOURCE]), resources
