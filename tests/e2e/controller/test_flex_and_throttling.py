# SPDX-License-Identifier: Apache-2.0
"""Computes other than uniform scale sets, and ARM throttling as ARM applies it (issue 15): VMSS Flex members and a
standalone VM get their identities with the same coalescing; a 429 of the subscription's budget holds every scale
set of the subscription, a scale set's own limit holds that scale set only."""
from __future__ import annotations

import time

from podid_harness.controller_cluster import NODE_RG, wait_for

from helpers import bound_identity, on_compute


def test_flex_members_and_a_standalone_vm_get_their_identities_once_each(cluster, controller):
    c = cluster
    flex = c.add_flex_scale_set(NODE_RG, "aks-flex", nodes=2)
    vm = c.add_vm(NODE_RG, "aks-standalone")
    web = bound_identity(c, "shop", "web-id", selector="web")
    # Several pods per member inside one coalescing window: one GET and one PATCH per member VM.
    pods = [c.add_pod("shop", f"web-{i}", target.nodes[0], selector="web")
            for i, target in enumerate([flex[0], flex[0], flex[1], flex[1], vm, vm])]
    c.wait_assigned(*pods, timeout=60)
    for target in (*flex, vm):
        assert on_compute(c, target, web), target.name
        assert len(c.arm_calls("PATCH vm", target)) == 1, target.name
        assert target.compute.provisioning_state == "Succeeded"
    assert c.arm.counters["PATCH vmss"] == 0, "a Flex scale set's identities go on its member VMs"
    aai = c.aai(pods[0], web)
    assert aai["metadata"]["annotations"]["podid.io/compute"].endswith(flex[0].name.lower())
    # The last pod of one member goes: that member's identity goes, the other member keeps it.
    c.delete_pod(pods[0])
    c.delete_pod(pods[1])
    c.wait_on_compute(flex[0], web, present=False, timeout=30)
    assert on_compute(c, flex[1], web) and on_compute(c, vm, web)


def test_subscription_wide_429_holds_every_scale_set_of_the_subscription(cluster, controller):
    c = cluster
    pools = [c.add_scale_set(NODE_RG, f"aks-pool{i}", nodes=1) for i in range(3)]
    idents = [bound_identity(c, "shop", f"id-{i}", selector=f"sel-{i}") for i in range(3)]
    # One read left in the subscription, then 429 for everyone for 3 s.
    c.arm.limits(reads=1, retry_after_s=3)
    first = [c.add_pod("shop", f"p-{i}", pools[i].nodes[0], selector=f"sel-{i}") for i in range(2)]
    wait_for(lambda: [e for e in c.arm.log.entries() if e.status == 429], 20, "a 429 of the subscription",
             diagnose=c.diagnostics)
    t429 = min(e.t for e in c.arm.log.entries() if e.status == 429)
    # A third scale set's change arrives while the subscription is held: its round must wait, untried.
    time.sleep(0.5)
    late = c.add_pod("shop", "p-2", pools[2].nodes[0], selector="sel-2")
    c.arm.limits()  # the budget is back once the hold ends
    c.wait_assigned(*first, late, timeout=60)
    starts = [e for e in c.arm.log.entries(op="GET vmss") if e.t > t429 + 0.05]
    early = [e for e in starts if e.t < t429 + 3 - 0.2]
    assert not early, f"rounds started {[round(e.t - t429, 2) for e in early]} s after the subscription's 429"
    assert c.metric("podid_controller_arm_subscription_hold_seconds_total") > 0
    assert all(on_compute(c, pools[i], idents[i]) for i in range(3))


def test_a_scale_sets_own_limit_holds_that_scale_set_only(cluster, controller):
    c = cluster
    a, b = c.add_scale_set(NODE_RG, "aks-pool-a", nodes=1), c.add_scale_set(NODE_RG, "aks-pool-b", nodes=1)
    ident = bound_identity(c, "shop", "web-id", selector="web")
    c.arm.resource_limits(reads=1, retry_after_s=4)  # each scale set: one GET, then 429 for 4 s
    c.wait_assigned(c.add_pod("shop", "a-0", a.nodes[0], selector="web"), timeout=30)
    c.wait_assigned(c.add_pod("shop", "b-0", b.nodes[0], selector="web"), timeout=30)
    # pool-a's second round: 429 from its own limit; pool-b's goes ahead meanwhile.
    a1 = c.add_pod("shop", "a-1", a.nodes[0], selector="web")
    wait_for(lambda: [e for e in c.arm_calls("GET vmss", a) if e.status == 429], 20, "pool-a's 429",
             diagnose=c.diagnostics)
    t429 = [e for e in c.arm_calls("GET vmss", a) if e.status == 429][0].t
    b1 = c.add_pod("shop", "b-1", b.nodes[0], selector="web")
    wait_for(lambda: [e for e in c.arm_calls("GET vmss", b) if e.t > t429], 20, "pool-b's round")
    assert min(e.t for e in c.arm_calls("GET vmss", b) if e.t > t429) < t429 + 3, "pool-b waited for pool-a's limit"
    c.wait_assigned(a1, b1, timeout=60)
    retried = [e.t for e in c.arm_calls("GET vmss", a) if e.t > t429]
    assert retried and min(retried) >= t429 + 4 - 0.2, f"pool-a retried {min(retried) - t429:.2f} s after its 429"
    assert c.metric("podid_controller_arm_subscription_hold_seconds_total") == 0
    assert on_compute(c, a, ident) and on_compute(c, b, ident)
