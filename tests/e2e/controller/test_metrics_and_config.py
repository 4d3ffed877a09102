# SPDX-License-Identifier: Apache-2.0
"""What operators read (metrics, health) and what operators get wrong (flags, cloud config, credentials)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from podid_harness.controller_cluster import CONTROLLER, NODE_RG, ControllerCluster, parse_samples, wait_for

from helpers import bound_identity, settle

EXPECTED = [
    "podid_controller_arm_requests_total", "podid_controller_arm_request_duration_seconds_count",
    "podid_controller_queue_depth", "podid_controller_reconcile_duration_seconds_count",
    "podid_controller_reconciles_total", "podid_controller_assignment_latency_seconds_count",
    "podid_controller_identities", "podid_controller_kube_requests_total", "podid_controller_is_leader",
    "podid_controller_cache_synced",
]


def test_metrics_count_what_happened_and_pass_promtool(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    wait_for(lambda: c.metric("podid_controller_assignment_latency_seconds_count") >= 1, 10,
             "the assignment latency observed")
    text = c.metrics()
    missing = [m for m in EXPECTED if not parse_samples(text, m)]
    assert not missing, missing
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    out = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every ARM request is counted once, by operation and code, as the emulator saw it.
    settle(c, 0.5)
    arm_seen = len(c.arm.log.entries())
    counted = c.metric("podid_controller_arm_requests_total")
    assert counted == arm_seen, (counted, arm_seen, dict(c.arm.counters))
    series = parse_samples(c.metrics(), "podid_controller_arm_requests_total")
    assert all(ls.get("operation") and re.fullmatch(r"\d{3}", ls.get("code", "")) for ls, _ in series), series
    assert sum(v for ls, v in series if ls["code"] == "200") == \
        len([e for e in c.arm.log.entries() if e.status == 200]), series
    assert c.metric("podid_controller_is_leader") == 1
    assert c.metric("podid_controller_identities") >= 1


def test_health_endpoints(cluster, controller):
    assert controller.http_get("/healthz")[0] == 200
    assert controller.http_get("/readyz")[0] == 200
    assert controller.http_get("/nope")[0] == 404


def _run(c: ControllerCluster, *args: str, env: dict | None = None, timeout: float = 20):
    return subprocess.run([str(CONTROLLER), *args], capture_output=True, text=True, timeout=timeout,
                          env={**c.controller_env(), **(env or {})})


@pytest.mark.parametrize("args,needle", [
    (["--coalesce-window-ms", "soon"], "--coalesce-window-ms"),
    (["--listen", "127.0.0.1"], "--listen"),
    (["--log-level", "chatty"], "--log-level"),
    (["--retry-initial-ms", "5000", "--retry-max-ms", "1000"], "--retry-max-ms"),
    (["--no-such-flag", "1"], "no-such-flag"),
])
def test_bad_flags_are_refused_by_name(cluster, controller_built, args, needle):
    out = _run(cluster, "--namespace", "podid-system", "--kubeconfig", str(cluster.kubeconfig), *args)
    assert out.returncode != 0
    assert needle in out.stderr + out.stdout, out.stderr


def test_namespace_is_required(cluster, controller_built):
    out = _run(cluster, "--kubeconfig", str(cluster.kubeconfig), "--cloud-config", str(cluster.cloud_config))
    assert out.returncode != 0 and "--namespace" in out.stderr + out.stdout, out.stderr


@pytest.mark.parametrize("content,needle", [
    (None, "{path}"),                                       # missing file: named
    ("{not json", "{path}"),                                # not JSON: the file named
    ('{"cloud": "AzureStackCloud"}', "aadClientId"),        # no credential: the fields that would make one
])
def test_unusable_cloud_config_stops_the_controller_with_a_clear_error(cluster, controller_built, content,
                                                                       needle):
    path = cluster.tmp / "bad-azure.json"
    if content is not None:
        path.write_text(content)
    cp = cluster.start_controller("--cloud-config", str(path), wait_live=False)
    wait_for(lambda: not cp.alive(), 20, "the controller to refuse the cloud config",
             diagnose=lambda: cp.log()[-2000:])
    assert cp.proc.returncode != 0
    assert needle.format(path=path) in cp.log(), cp.log()[-2000:]
    assert cluster.arm.log.entries() == [] and cluster.kube_writes() == []


def test_wrong_client_secret_assigns_nothing_and_says_why(cluster, controller_built):
    c = cluster
    c.write_cloud_config(aadClientSecret="not-the-secret")
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    cp = c.start_controller(wait_live=False)
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    wait_for(lambda: "7000215" in cp.log() or "invalid_client" in cp.log(), 30,
             "a log line with Entra's answer (AADSTS7000215 invalid_client)", diagnose=lambda: cp.log()[-3000:])
    assert c.arm_calls("PATCH vmss") == []
    assert c.aai_state(c.aai(pod, web)) != "Assigned"


def test_msi_auth_through_imds(tmp_path, controller_built):
    with ControllerCluster(tmp_path, auth="msi") as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        web = bound_identity(c, "shop", "web-id", selector="web")
        c.start_controller()
        pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
        c.wait_assigned(pod, timeout=40)
        reqs = c.imds.log.entries(r"/metadata/identity/oauth2/token")
        assert reqs and all(r.query.get("client_id") == [c.cluster_identity.client_id] for r in reqs), \
            [r.raw_path for r in reqs]
        assert c.entra.token_log == []
        assert web.key in c.cloud.assigned_ids(pool.resource_id)
