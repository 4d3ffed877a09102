# SPDX-License-Identifier: Apache-2.0
"""Convergence: coalescing into one GET and one PATCH, nodes moving between scale sets, drift repaired, and
the API server's watches dropped or the server gone for a while (issue 7)."""
from __future__ import annotations

import time

from podid_harness.controller_cluster import NODE_RG, wait_for

from helpers import bound_identity, on_compute, settle


def test_fifty_pods_at_once_on_one_scale_set_make_one_get_and_one_patch(cluster, controller_built):
    c = cluster
    c.start_controller("--coalesce-window-ms", "1500")
    c.wait_leader()
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=5)
    idents = [bound_identity(c, "shop", f"id-{i}") for i in range(5)]
    settle(c, 2)
    before = {op: len(c.arm_calls(op, pool)) for op in ("GET vmss", "PATCH vmss")}
    t0 = time.monotonic()
    pods = [c.add_pod("shop", f"p-{i}", pool.nodes[i % 5], selector=idents[i % 5].name) for i in range(50)]
    created_in = time.monotonic() - t0
    assert created_in < 1.0, f"creating the pods took {created_in:.2f}s, longer than the window"
    c.wait_assigned(*pods, timeout=60)
    got = {op: len(c.arm_calls(op, pool)) - before[op] for op in before}
    assert got == {"GET vmss": 1, "PATCH vmss": 1}, got
    assert all(on_compute(c, pool, i) for i in idents)


def test_two_scale_sets_are_reconciled_independently(cluster, controller):
    c = cluster
    pools = [c.add_scale_set(NODE_RG, f"aks-pool{i}", nodes=2) for i in range(3)]
    web = bound_identity(c, "shop", "web-id", selector="web")
    pods = [c.add_pod("shop", f"web-{i}", p.nodes[0], selector="web") for i, p in enumerate(pools)]
    c.wait_assigned(*pods, timeout=40)
    for p in pools:
        assert on_compute(c, p, web)
        assert len(c.arm_calls("PATCH vmss", p)) == 1


def test_node_moved_to_another_scale_set(cluster, controller):
    c = cluster
    a = c.add_scale_set(NODE_RG, "aks-poola", nodes=1)
    b = c.add_scale_set(NODE_RG, "aks-poolb", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", a.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    assert on_compute(c, a, web) and not on_compute(c, b, web)
    c.move_node(a.nodes[0], b, instance="0")
    c.wait_on_compute(b, web, present=True, timeout=30)
    c.wait_on_compute(a, web, present=False, timeout=30)     # podid added it to a, and nothing there needs it
    c.wait_assigned(pod, timeout=30)


def test_node_deleted_releases_its_identities(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    c.delete_pod(pod)
    c.delete_node(pool.nodes[0])
    c.wait_aai_gone(pod, web, timeout=30)
    c.wait_on_compute(pool, web, present=False, timeout=30)


def test_drift_repaired_within_the_interval(cluster, controller_built):
    c = cluster
    interval = 3
    c.start_controller("--drift-check-interval-s", str(interval))
    c.wait_leader()
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    c.cloud.unassign_identity(pool.resource_id, web.resource_id)     # a node-pool upgrade wiped it
    removed_at = time.monotonic()
    c.wait_on_compute(pool, web, present=True, timeout=interval * 2 + 10)
    assert time.monotonic() - removed_at <= interval * 2 + 5
    assert len(c.arm_calls("PATCH vmss", pool)) == 2
    # Idle: about one GET per interval, not a loop.
    gets = len(c.arm_calls("GET vmss", pool))
    settle(c, interval * 3)
    idle_gets = len(c.arm_calls("GET vmss", pool)) - gets
    assert 1 <= idle_gets <= 4, f"{idle_gets} GETs in {interval * 3}s of idling with a {interval}s drift check"
    assert c.aai_state(c.aai(pod, web)) == "Assigned"


def test_watches_dropped_are_resumed(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    bound_identity(c, "shop", "web-id", selector="web")
    before = len(c.api.open_watches())
    assert before > 0
    c.api.faults.drop_watches()
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")   # happens while the watches are down
    c.wait_assigned(pod, timeout=30)
    wait_for(lambda: len(c.api.open_watches()) >= before, 20, "the controller's watches re-opened")


def test_api_server_outage_and_recovery(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    web = bound_identity(c, "shop", "web-id", selector="web")
    p1 = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(p1, timeout=30)
    c.api.down()
    try:
        time.sleep(3)
        assert c.controllers[0].alive(), "the controller exited while the API server was down"
    finally:
        c.api.up()
    p2 = c.add_pod("shop", "web-1", pool.nodes[0], selector="web")
    c.wait_assigned(p2, timeout=40)
    c.delete_pod(p1)
    c.delete_pod(p2)
    c.wait_on_compute(pool, web, present=False, timeout=40)


def test_api_write_errors_are_retried(cluster, controller):
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    bound_identity(c, "shop", "web-id", selector="web")
    c.api.faults.fail_next(3, 500, path_regex=r"azureassignedidentities")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=40)
