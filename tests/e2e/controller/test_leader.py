# SPDX-License-Identifier: Apache-2.0
"""Leader election on a coordination.k8s.io/v1 Lease with two replicas: only the leader acts, and a new
leader picks up an update the old one left in flight without sending it again (issue 7)."""
from __future__ import annotations

import signal
import time

from podid_harness.controller_cluster import CONTROLLER_NS, LEASE_NAME, NODE_RG, wait_for

from helpers import bound_identity, on_compute, settle

ELECTION = ("--leader-election-duration-s", "4")


def test_one_replica_leads_and_the_other_stands_by(cluster, controller_built):
    c = cluster
    r0 = c.start_controller(*ELECTION, replica=0)
    leader = c.wait_leader()
    r1 = c.start_controller(*ELECTION, replica=1)
    c.wait_ready(r1)
    lease = c.api.get("leases", LEASE_NAME, CONTROLLER_NS)
    assert lease["spec"]["holderIdentity"] == leader.identity == r0.identity
    assert c.metric("podid_controller_is_leader", r1) == 0
    assert c.metric("podid_controller_is_leader", r0) == 1
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    bound_identity(c, "shop", "web-id", selector="web")
    pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    c.wait_assigned(pod, timeout=30)
    assert len(c.arm_calls("PATCH vmss", pool)) == 1
    assert c.metric("podid_controller_arm_requests_total", r1) == 0, "the standby replica called ARM"


def test_leader_killed_mid_update_new_leader_finishes_without_a_second_patch(tmp_path, controller_built):
    from podid_harness.controller_cluster import ControllerCluster
    # A slow update: 10 polls answered InProgress, one a second (the emulator's Retry-After: 1).
    with ControllerCluster(tmp_path, lro_polls=10) as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        web = bound_identity(c, "shop", "web-id", selector="web")
        r0 = c.start_controller(*ELECTION, replica=0)
        assert c.wait_leader() is r0
        r1 = c.start_controller(*ELECTION, replica=1)
        c.wait_ready(r1)
        pod = c.add_pod("shop", "web-0", pool.nodes[0], selector="web")
        wait_for(lambda: c.arm_calls("PATCH vmss", pool), 20, "the leader's PATCH", diagnose=c.diagnostics)
        assert pool.compute.provisioning_state == "Updating"
        r0.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        assert c.wait_leader(timeout=30, not_=r0.identity) is r1
        c.wait_assigned(pod, timeout=40)
        # Assigned means the node's IMDS serves the identity: the update in flight must have completed.
        assert web.key in pool.compute.effective, \
            f"Assigned while the update was still {pool.compute.provisioning_state} (not yet on the nodes)"
        patches = c.arm_calls("PATCH vmss", pool)
        assert len(patches) == 1, f"{len(patches)} PATCHes; the new leader re-sent an update in flight"
        assert on_compute(c, pool, web)
        assert time.monotonic() - killed_at < 60


def test_replica_restarted_after_assignment_sends_nothing(cluster, controller_built):
    """A restart (or a new leader) on a converged cluster: caches fill, the drift check may GET, but nothing is
    written to ARM and no AAI is rewritten."""
    c = cluster
    pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=2)
    bound_identity(c, "shop", "web-id", selector="web")
    r0 = c.start_controller(*ELECTION, replica=0)
    c.wait_leader()
    pods = [c.add_pod("shop", f"web-{i}", pool.nodes[i], selector="web") for i in range(2)]
    c.wait_assigned(*pods, timeout=30)
    patches = len(c.arm_calls("PATCH vmss"))
    r0.kill(signal.SIGTERM)
    aai_writes = len(c.kube_writes(resource="azureassignedidentities"))
    r0b = c.start_controller(*ELECTION, replica=0)
    c.wait_leader()
    c.wait_ready(r0b)
    settle(c, 3)
    assert len(c.arm_calls("PATCH vmss")) == patches
    assert len(c.kube_writes(resource="azureassignedidentities")) == aai_writes
