# SPDX-License-Identifier: Apache-2.0
"""The chart's federated-only switch (agent --mode federated, no controller) with the fallback credential (the
agent's own service account holding create serviceaccounts/token, --token-request-credential service-account):
federated pods are served, an identity that is not federated is refused with a reason, and the agent reads no
AzureAssignedIdentity (it has no RBAC for them in this mode)."""
from __future__ import annotations

from helpers import assert_identity_not_found, assert_token_for

from podid_harness.token_cluster import AGENT_USER

CLUSTER_OPTIONS = {"mode": "federated", "token_credential": "service-account",
                   "agent_rules": [(["get", "list", "watch"], [""], ["pods"]),
                                   (["list", "watch"], [""], ["serviceaccounts"]),
                                   (["list", "watch"], ["aadpodidentity.k8s.io"],
                                    ["azureidentities", "azureidentitybindings", "azurepodidentityexceptions"])]}


def test_federated_pod_served_with_the_agents_own_credential(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    ident = cluster.add_federated_identity(ns, uniq("fid"), subjects=[(ns, sa)])
    cluster.service_account(ns, sa)
    cluster.bind(ns, uniq("bind"), ident, "fed")
    pod = cluster.add_pod(uniq("pod"), ns, binding="fed", service_account=sa)
    assert_token_for(cluster.token(pod), ident)
    (tr,) = [e for e in cluster.api.requests(verb="create", resource="serviceaccounts") if e["namespace"] == ns]
    assert tr["user"] == AGENT_USER and tr["code"] == 201, tr


def test_an_identity_that_is_not_federated_is_refused(cluster, uniq):
    ns = uniq("ns")
    uami = cluster.add_identity(ns, uniq("id"), on_vmss=True)
    cluster.bind(ns, uniq("bind"), uami, "plain")
    pod = cluster.add_pod(uniq("pod"), ns, binding="plain")
    assert_identity_not_found(cluster.token(pod))
    (line,) = cluster.wait_audit(lambda l: l.get("pod") == pod.name)
    assert line["reason"] == "no_binding", line
    assert not cluster.imds_token_requests()


def test_no_assigned_identity_is_read_and_nothing_was_forbidden(cluster):
    assert not [w for w in cluster.api.open_watches() if "azureassignedidentities" in w]
    assert cluster.forbidden_requests() == []
