# SPDX-License-Identifier: Apache-2.0
"""What operators see: /metrics (valid for promtool, per-pod series that go with the pod) and one audit line
per token decision on the agent's stderr."""
from __future__ import annotations

import time

from helpers import assert_identity_not_found, assert_token_for, bound_pod

from podid_harness.token_cluster import ARM_RESOURCE, VAULT, parse_samples, promtool_check

WATCHES = {"pods", "azureidentities", "azureidentitybindings", "azureassignedidentities",
           "azurepodidentityexceptions"}


def _pod_series(cluster, pod) -> list[tuple[dict, float]]:
    return [(l, v) for l, v in cluster.metric_series("podid_token_requests_total")
            if l.get("pod") == pod.name and l.get("namespace") == pod.namespace]


def test_metrics_pass_promtool_and_name_what_happened(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    unbound = cluster.add_pod(uniq("pod"), pod.namespace)
    assert_token_for(cluster.token(pod), ident)
    assert_token_for(cluster.token(pod), ident)
    assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
    assert_identity_not_found(cluster.wait_token(unbound, status=400))
    assert cluster.http(pod, "/metadata/versions").status == 200          # one passthrough request
    text = cluster.agent_metrics()
    check = promtool_check(text)
    assert check.returncode == 0, check.stdout + check.stderr

    series = _pod_series(cluster, pod)
    by = {(l["resource"], l["result"], l["source"]): v for l, v in series}
    assert by.get((VAULT, "served", "upstream")) == 1, series
    assert by.get((VAULT, "served", "cache")) == 1, series
    assert by.get((ARM_RESOURCE, "served", "upstream")) == 1, series
    names = {ident.client_id, ident.name, f"{ident.namespace}/{ident.name}"}
    assert all(l["identity"] in names for l, _ in series), series
    assert {tuple(sorted(l)) for l, _ in series} == {
        ("identity", "namespace", "pod", "resource", "result", "source")}, series
    refused = [(l, v) for l, v in _pod_series(cluster, unbound) if l["result"] == "not_found"]
    assert refused and refused[0][0]["source"] == "", _pod_series(cluster, unbound)

    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    for name in ("podid_token_requests_total", "podid_token_request_duration_seconds",
                 "podid_pod_resolution_failures_total", "podid_upstream_requests_total",
                 "podid_passthrough_requests_total", "podid_token_cache_events_total", "podid_k8s_watch_connected",
                 "podid_k8s_api_reachable", "podid_pods_known", "aadpodidentity_nmi_operations_duration_seconds"):
        assert name in names, f"{name} missing from /metrics"
    connected = {l["watch"]: v for l, v in parse_samples(text, "podid_k8s_watch_connected")}
    assert WATCHES <= set(connected) and all(connected[w] == 1 for w in WATCHES), connected
    assert parse_samples(text, "podid_k8s_api_reachable") == [({}, 1.0)]
    assert parse_samples(text, "podid_pods_known")[0][1] >= 2
    passthrough = parse_samples(text, "podid_passthrough_requests_total")
    assert sum(v for _, v in passthrough) >= 1 and all("result" in l for l, _ in passthrough), passthrough
    upstream = {(l["upstream"], l["status"]): v for l, v in parse_samples(text, "podid_upstream_requests_total")}
    assert sum(v for (_, status), v in upstream.items() if status == "200") >= 2, upstream
    durations = parse_samples(text, "podid_token_request_duration_seconds_count")
    assert sum(v for _, v in durations) >= 4, durations


def test_a_deleted_pods_series_disappear(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    assert _pod_series(cluster, pod), "no series for the pod that was just served"
    cluster.remove_pod(pod)
    cluster.settle()
    deadline = time.monotonic() + 10
    while _pod_series(cluster, pod) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _pod_series(cluster, pod) == []
    check = promtool_check(cluster.agent_metrics())
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_token_decision_is_audited(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    unbound = cluster.add_pod(uniq("pod"), pod.namespace)
    assert_token_for(cluster.token(pod), ident)
    assert_token_for(cluster.token(pod), ident)
    assert_identity_not_found(cluster.wait_token(unbound, status=400))
    for _ in range(50):
        served = [l for l in cluster.audit_lines() if l.get("pod") == pod.name]
        if len(served) >= 2:
            break
        time.sleep(0.1)
    assert len(served) == 2, served
    keys = {"namespace", "pod", "cgroup_id", "client_id", "resource", "decision", "reason", "source", "status",
            "latency_us"}
    for line in served:
        assert keys <= set(line), line
        assert (line["namespace"], line["client_id"], line["resource"]) == (pod.namespace, ident.client_id, VAULT)
        assert line["decision"] == "served" and line["status"] == 200, line
        assert int(line["cgroup_id"]) == pod.cgroup_id(), line
        assert isinstance(line["latency_us"], int) and line["latency_us"] >= 0, line
    assert sorted(l["source"] for l in served) == ["cache", "upstream"], served
    refused = cluster.wait_audit(lambda l: l.get("pod") == unbound.name)
    assert refused, "no audit line for the refused request"
    assert refused[-1]["decision"] != "served" and refused[-1]["status"] == 400, refused[-1]
    assert refused[-1]["namespace"] == unbound.namespace and refused[-1]["client_id"] in ("", None), refused[-1]
    # No secret material in the audit trail.
    assert all("access_token" not in str(l) and "eyJ" not in str(l) for l in cluster.audit_lines())
