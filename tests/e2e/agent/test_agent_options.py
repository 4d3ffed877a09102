# SPDX-License-Identifier: Apache-2.0
"""The agent's options, one cluster for the module: each test restarts the agent with the flags it is about
(pins are reused across restarts) and makes its own pods and identities."""
from __future__ import annotations

import threading
import time

import pytest
from helpers import (assert_identity_not_found, assert_no_token, assert_token_for, bound_pod, json_error)

from podid_harness.token_cluster import ARM_RESOURCE, VAULT

MULTIPLE = {"error": "invalid_request", "error_description": "Multiple user assigned identities exist, please "
            "specify the clientId / resourceId of the identity in the token request"}
TAINT = "podid.io/agent-not-ready"


@pytest.fixture
def flags(cluster):
    """flags(*args): restart the agent with exactly these extra flags (standard mode unless set)."""
    def restart(*args: str, mode: str = "standard"):
        cluster.mode = mode
        cluster.restart_agent(list(args))
    yield restart
    cluster.mode = "standard"


def test_not_ready_as_503_with_retry_after(cluster, uniq, flags):
    flags("--not-ready-status", "503", "--not-ready-retry-after-seconds", "7")
    pod, (ident,) = bound_pod(cluster, uniq, state="Created")
    before = len(cluster.imds_token_requests())
    started = time.monotonic()
    r = cluster.token(pod)
    assert time.monotonic() - started < 1.0
    assert r.status == 503 and r.headers.get("retry-after") == "7", str(r)
    assert_no_token(r)
    json_error(r)
    assert len(cluster.imds_token_requests()) == before
    cluster.set_assignment_state(pod, ident, "Assigned")
    cluster.settle()
    assert_token_for(cluster.token(pod), ident)


def test_assignment_wait_holds_the_request_until_assigned(cluster, uniq, flags):
    flags("--assignment-wait-ms", "3000")
    pod, (ident,) = bound_pod(cluster, uniq, state="Created")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", cluster.token(pod)))
    started = time.monotonic()
    t.start()
    time.sleep(0.8)
    cluster.set_assignment_state(pod, ident, "Assigned")
    t.join(20)
    took = time.monotonic() - started
    assert_token_for(result["r"], ident)
    assert 0.6 < took < 3.5, f"answered after {took:.2f}s"
    # Never assigned: the not-ready answer after the wait, not before.
    stuck, _ = bound_pod(cluster, uniq, state="Created")
    started = time.monotonic()
    r = cluster.token(stuck)
    took = time.monotonic() - started
    assert r.status == 404, str(r)
    assert 2.8 < took < 6, f"answered after {took:.2f}s"


def test_strict_default_identity(cluster, uniq, flags):
    flags("--strict-default-identity", "true")
    pod, ids = bound_pod(cluster, uniq, identities=2)
    r = cluster.token(pod)
    assert r.status == 400 and r.json() == MULTIPLE, str(r)
    assert_token_for(cluster.token(pod, client_id=ids[1].client_id), ids[1])
    single, (only,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(single), only)


def test_block_instance_metadata(cluster, uniq, flags):
    flags("--block-instance-metadata", "true")
    pod, (ident,) = bound_pod(cluster, uniq)
    before = len(cluster.imds.log.entries())
    for path in ("/metadata/instance?api-version=2021-02-01",
                 "/metadata/instance/compute?api-version=2021-02-01"):
        r = cluster.http(pod, path)
        assert r.status == 403, str(r)
        assert "error" in r.json(), str(r)
    assert len(cluster.imds.log.entries()) == before
    assert cluster.http(pod, "/metadata/versions").status == 200
    assert_token_for(cluster.token(pod), ident)


def test_passthrough_off(cluster, uniq, flags):
    flags("--passthrough", "false")
    pod, (ident,) = bound_pod(cluster, uniq)
    before = len(cluster.imds.log.entries())
    for path in ("/metadata/instance?api-version=2021-02-01", "/metadata/versions"):
        r = cluster.http(pod, path)
        assert r.status in (403, 404), str(r)
    assert len(cluster.imds.log.entries()) == before
    assert_token_for(cluster.token(pod), ident)


def test_source_ip_check_can_be_turned_off(cluster, uniq, flags):
    flags("--verify-source-ip", "false")
    pod, (ident,) = bound_pod(cluster, uniq)
    cluster.api.patch("pods", pod.name, {"status": {"podIP": "10.244.1.251", "podIPs": [{"ip": "10.244.1.251"}]}},
                      pod.namespace, subresource="status")
    cluster.settle()
    assert_token_for(cluster.token(pod), ident)


def test_connections_per_pod_are_capped(cluster, uniq, flags):
    flags("--max-connections-per-pod", "2")
    pod, (ident,) = bound_pod(cluster, uniq)
    other, (other_ident,) = bound_pod(cluster, uniq)
    before = cluster.metric("podid_pod_resolution_failures_total", reason="too_many_connections")
    path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT
    conns = [cluster.connect(pod) for _ in range(3)]
    try:
        assert_token_for(conns[0].request(path), ident)
        assert_token_for(conns[1].request(path), ident)
        third = conns[2].request(path)          # two still open: over the cap
        assert_no_token(third)
        # Another pod has its own allowance.
        assert_token_for(cluster.token(other), other_ident)
        conns[0].close()
        time.sleep(0.3)
        with cluster.connect(pod) as again:
            assert_token_for(again.request(path), ident)
    finally:
        for c in conns:
            c.close()
    assert cluster.metric("podid_pod_resolution_failures_total", reason="too_many_connections") == before + 1


def test_managed_mode_needs_no_assignment_and_reads_bindings_in_the_pods_namespace(cluster, uniq, flags):
    flags(mode="managed")
    ns, other_ns = uniq("ns"), uniq("ns")
    ident = cluster.add_identity(ns, uniq("id"))                   # on the VMSS already (managed)
    web, batch_sel = uniq("sel"), uniq("sel")
    cluster.bind(ns, uniq("bind"), ident, web)
    pod = cluster.add_pod(uniq("pod"), ns, binding=web)
    assert_token_for(cluster.wait_token(pod), ident)
    assert_token_for(cluster.token(pod, msi_res_id=ident.resource_id.upper()), ident)
    # A binding in another namespace does not bind this pod.
    elsewhere = cluster.add_pod(uniq("pod"), other_ns, binding=web)
    assert_identity_not_found(cluster.wait_token(elsewhere, status=400))
    # Bound, but the identity is not on the VMSS: IMDS's refusal, no token.
    missing = cluster.add_identity(other_ns, uniq("id"), on_vmss=False)
    cluster.bind(other_ns, uniq("bind"), missing, batch_sel)
    batch = cluster.add_pod(uniq("pod"), other_ns, binding=batch_sel)
    r = cluster.token(batch)
    assert_no_token(r)
    assert r.status in (400, 403, 404), str(r)


def test_force_namespaced_ignores_other_namespaces_bindings(cluster, uniq, flags):
    flags("--force-namespaced", "true")
    ns_a, ns_b = uniq("ns"), uniq("ns")
    ident = cluster.add_identity(ns_a, uniq("id"))
    selector = uniq("sel")           # selectors are cluster-wide: never reuse one across tests
    cluster.bind(ns_a, uniq("bind"), ident, selector)
    home = cluster.add_pod(uniq("pod"), ns_a, binding=selector, settle=False)
    away = cluster.add_pod(uniq("pod"), ns_b, binding=selector, settle=False)
    cluster.assign(home, ident)
    cluster.assign(away, ident)      # as a MIC without namespaced mode would have done
    cluster.settle()
    assert_token_for(cluster.token(home), ident)
    r = cluster.token(away)
    assert_no_token(r)
    assert_identity_not_found(r)


def test_namespaced_identity_annotation_is_honoured(cluster, uniq, flags):
    flags()
    ns_a, ns_b = uniq("ns"), uniq("ns")
    ident = cluster.add_identity(ns_a, uniq("id"), namespaced=True)
    selector = uniq("sel")
    cluster.bind(ns_a, uniq("bind"), ident, selector)
    home = cluster.add_pod(uniq("pod"), ns_a, binding=selector, settle=False)
    away = cluster.add_pod(uniq("pod"), ns_b, binding=selector, settle=False)
    cluster.assign(home, ident)      # MIC assigns a namespaced identity to pods of its namespace only
    cluster.settle()
    assert_token_for(cluster.token(home), ident)
    # Never going to be served: "not found" (400, not retried), not "not assigned yet" (404, retried for ever).
    assert_identity_not_found(cluster.token(away, resource=ARM_RESOURCE))


def test_startup_taint_is_removed_once_ready(cluster, flags):
    taints = [{"key": TAINT, "effect": "NoSchedule"}, {"key": "other.io/keep", "value": "x", "effect": "NoSchedule"}]
    cluster.api.patch("nodes", cluster.node_name, {"spec": {"taints": taints}}, "")
    flags("--startup-taint", TAINT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = cluster.api.get("nodes", cluster.node_name, "").get("spec", {}).get("taints", [])
        if all(t["key"] != TAINT for t in now):
            break
        time.sleep(0.1)
    assert [t["key"] for t in now] == ["other.io/keep"], now
