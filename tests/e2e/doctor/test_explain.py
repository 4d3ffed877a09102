# SPDX-License-Identifier: Apache-2.0
"""`podid explain` on the demo's three pods (scripts/demo.py: app bound to reader, intruder bound to other,
spoofer with no binding), with podid-controller really assigning the identities, gives the demo's answers; and
the near misses a person would not see in `kubectl get`."""
from __future__ import annotations

import pytest

from podid_harness.controller_cluster import NODE_RG


@pytest.fixture
def demo(cluster, doctor):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    reader = cluster.add_identity("shop", "reader")
    other = cluster.add_identity("shop", "other")
    cluster.bind("shop", reader, selector="reader", name="reader")
    cluster.bind("shop", other, selector="other", name="other")
    app = cluster.add_pod("shop", "app", pool.nodes[0], selector="reader")
    intruder = cluster.add_pod("shop", "intruder", pool.nodes[0], selector="other")
    cluster.add_pod("shop", "spoofer", pool.nodes[0])
    doctor.agents_everywhere()
    cluster.start_controller()
    cluster.wait_assigned(app, intruder)
    return pool, reader, other


def test_demo_pods(cluster, doctor, demo):
    pool, reader, other = demo
    app = doctor.run("explain", "shop/app")
    assert app.status == 0
    e = app.json()
    assert (e["identity"], e["binding"], e["client_id"]) == ("shop/reader", "shop/reader", reader.client_id)
    assert e["rule"].startswith("rule 4: the only identity") and e["bindings"] == [
        {"binding": "shop/reader", "identity": "shop/reader", "servable": True}]
    assert e["assigned_identities"][0]["state"] == "Assigned"
    assert e["compute"] == pool.resource_id and e["identity_on_compute"] is True

    intruder = doctor.run("explain", "shop/intruder").json()
    assert intruder["identity"] == "shop/other" and intruder["client_id"] == other.client_id

    spoofer = doctor.run("explain", "shop/spoofer")
    assert spoofer.status == 1
    assert spoofer.json()["outcome"] == "none" and spoofer.json()["reason"] == "no_binding"
    assert spoofer.json()["identity_on_compute"] is None

    text = doctor.run("explain", "shop/app", output=None)
    assert text.status == 0 and "shop/reader (client id " in text.stdout and "the identity is on it" in text.stdout


def test_near_misses_and_not_yet_on_the_scale_set(cluster, doctor, demo):
    pool, reader, _ = demo
    cluster.add_pod("shop", "typo", pool.nodes[0], selector="Reader")
    e = doctor.run("explain", "shop/typo").json()
    assert e["outcome"] == "none" and e["near_misses"] == [
        {"binding": "shop/reader", "why": "selector \"reader\" differs from the pod's label \"Reader\" only in case; "
                                          "selectors are compared exactly"}]
    cluster.cloud.unassign_identity(pool.resource_id, reader.resource_id)   # taken off behind podid's back
    assert doctor.run("explain", "shop/app").json()["identity_on_compute"] is False
    missing = doctor.run("explain", "shop/nobody")
    assert missing.status == 1 and "pod shop/nobody not found" in missing.stderr
