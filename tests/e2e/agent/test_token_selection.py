# SPDX-License-Identifier: Apache-2.0
"""Which token a pod gets, asked over HTTP from inside the pod at 169.254.169.254 (the kernel redirects it to
podid-agent, standard mode, default flags): the bound identity, each selector kind, the order without a
selector, the refusals, exception pods, and what a changed binding or identity does to the cache."""
from __future__ import annotations

import time

import pytest
from helpers import (assert_identity_not_found, assert_no_token, assert_token_for, bound_pod, json_error)

from podid_harness.token_cluster import ARM_RESOURCE, NODE_RG, VAULT


def test_bound_pod_gets_its_identitys_token_in_imds_format(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    r = cluster.token(pod)
    claims = assert_token_for(r, ident)
    assert claims["xms_mirid"] == ident.resource_id
    upstream = [e for e in cluster.imds_token_requests() if e.query.get("client_id") == [ident.client_id]]
    assert len(upstream) == 1, [e.raw_path for e in upstream]
    assert upstream[0].header("metadata") == "true" and upstream[0].header("x-forwarded-for") is None


def test_token_for_another_resource_and_trailing_slash(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
    # msal-node sends `/token/` (see the IMDS emulator); NMI accepted it as a prefix.
    r = cluster.http(pod, "/metadata/identity/oauth2/token/?api-version=2019-08-01&resource=" + VAULT)
    assert_token_for(r, ident)


def test_service_principal_identity_gets_its_token_from_entra(cluster, uniq):
    """AzureIdentity type 1: the agent reads the client secret from the Secret and asks Entra ID (the emulator
    named by spec.adEndpoint, over HTTPS with the test CA), then answers in IMDS's format."""
    ns = uniq("ns")
    ident = cluster.add_identity(ns, uniq("sp"), type=1)
    selector = uniq("sel")
    cluster.bind(ns, uniq("bind"), ident, selector)
    pod = cluster.add_pod(uniq("pod"), ns, binding=selector, settle=False)
    cluster.assign(pod, ident)
    cluster.settle()
    before = len(cluster.entra.token_log)
    assert_token_for(cluster.token(pod), ident)
    assert_token_for(cluster.token(pod), ident)           # cached
    calls = cluster.entra.token_log[before:]
    assert [(c.credential, c.status, c.form.get("client_id")) for c in calls] == [("secret", 200, ident.client_id)]


SELECTORS = {
    "client_id": lambda i: i.client_id,
    "object_id": lambda i: i.principal_id,
    "msi_res_id": lambda i: i.resource_id,
    "mi_res_id": lambda i: i.resource_id,
}


@pytest.mark.parametrize("kind", list(SELECTORS))
def test_each_selector_picks_that_identity_whatever_the_case(cluster, uniq, kind):
    pod, ids = bound_pod(cluster, uniq, identities=2)
    for ident in ids:
        value = SELECTORS[kind](ident)
        for given in (value, value.upper(), value.lower()):
            assert_token_for(cluster.token(pod, **{kind: given}), ident)


def test_selector_naming_someone_elses_identity_is_identity_not_found(cluster, uniq):
    pod, (mine,) = bound_pod(cluster, uniq)
    other_pod, (theirs,) = bound_pod(cluster, uniq)
    # `theirs` is on the VMSS (IMDS would serve it to anyone on the node): the agent must not.
    assert_token_for(cluster.token(other_pod, client_id=theirs.client_id), theirs)
    before = len(cluster.imds_token_requests())
    for kind, fn in SELECTORS.items():
        assert_identity_not_found(cluster.token(pod, **{kind: fn(theirs)}))
    # The agent may ask IMDS about the pod's own identity (to learn its object id), never about `theirs`.
    asked = [e.raw_path for e in cluster.imds_token_requests()[before:]]
    assert not [p for p in asked if theirs.client_id in p or theirs.principal_id in p or "res_id" in p], asked
    assert_token_for(cluster.token(pod), mine)


def test_pod_without_binding_gets_identity_not_found(cluster, uniq):
    ns = uniq("ns")
    unlabelled = cluster.add_pod(uniq("pod"), ns)
    unmatched = cluster.add_pod(uniq("pod"), ns, binding="nobody-binds-this")
    for pod in (unlabelled, unmatched):
        assert_identity_not_found(cluster.wait_token(pod, status=400))
        assert_identity_not_found(cluster.token(pod, client_id="00000000-0000-0000-0000-000000000000"))


def test_without_selector_the_first_identity_by_namespace_then_name_is_used(cluster, uniq):
    base = uniq("ord")
    ns_a, ns_z = f"{base}-aa", f"{base}-zz"
    pod_ns = f"{base}-pods"
    selector = uniq("sel")
    # Created in an order that is neither the wanted one nor its reverse.
    wanted = cluster.add_identity(ns_a, "id-b")
    later_ns = cluster.add_identity(ns_z, "id-a")
    later_name = cluster.add_identity(ns_a, "id-c")
    for ident in (later_name, later_ns, wanted):
        cluster.bind(ident.namespace, uniq("bind"), ident, selector)
    pod = cluster.add_pod(uniq("pod"), pod_ns, binding=selector, settle=False)
    for ident in (later_ns, wanted, later_name):
        cluster.assign(pod, ident)
    cluster.settle()
    for _ in range(3):
        assert_token_for(cluster.token(pod), wanted)
    assert_token_for(cluster.token(pod, client_id=later_ns.client_id), later_ns)


def test_not_yet_assigned_answers_404_at_once_then_serves_once_assigned(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq, state="Created")
    before = len(cluster.imds_token_requests())
    started = time.monotonic()
    r = cluster.token(pod)
    assert time.monotonic() - started < 1.0, f"not-ready answer took {time.monotonic() - started:.2f}s"
    assert r.status == 404, str(r)
    assert_no_token(r)
    json_error(r)
    assert r.elapsed_ms < 1000, str(r)
    assert len(cluster.imds_token_requests()) == before
    cluster.set_assignment_state(pod, ident, "Assigned")
    cluster.settle()
    assert_token_for(cluster.token(pod), ident)
    # Unassigned again (MIC removed it): no longer served.
    cluster.set_assignment_state(pod, ident, "Unassigned")
    cluster.settle()
    for resource in (VAULT, ARM_RESOURCE):               # neither from the cache nor from upstream
        assert_no_token(cluster.token(pod, resource=resource))


def test_exception_pod_gets_the_nodes_own_identity(cluster, uniq):
    ns = uniq("ns")
    kubelet = cluster.cloud.add_identity(NODE_RG, uniq("kubelet"))
    cluster.cloud.assign_identity(cluster.vmss.resource_id, kubelet.resource_id)
    cluster.exception(ns, {"app": "mic", "component": "mic"})
    # Any one label of the exception is enough, compared case-insensitively; a binding label does not matter.
    pod = cluster.add_pod(uniq("pod"), ns, labels={"app": "MIC", "aadpodidbinding": "whatever"})
    r = cluster.wait_token(pod)
    assert r.status == 200, str(r)
    claims = r.claims()
    assert claims["oid"] == cluster.vmss.system_principal_id, claims
    assert claims["xms_mirid"].lower() == cluster.vmss.resource_id.lower(), claims
    r = cluster.token(pod, client_id=kubelet.client_id)
    assert r.status == 200, str(r)
    assert (r.claims()["oid"], r.claims()["appid"]) == (kubelet.principal_id, kubelet.client_id)
    # The exception is per namespace: the same labels elsewhere are an ordinary, unbound pod.
    elsewhere = cluster.add_pod(uniq("pod"), uniq("ns"), labels={"app": "mic"})
    assert_identity_not_found(cluster.wait_token(elsewhere, status=400))


def test_identity_changed_while_cached_is_reflected_by_the_next_request(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    assert_token_for(cluster.token(pod), ident)         # cached
    new = cluster.retarget_identity(ident)               # same CR, new clientID/resourceID
    cluster.refresh_assignment(pod, ident)               # MIC refreshes the embedded copy
    cluster.settle()
    assert_token_for(cluster.token(pod), new)


def test_binding_deleted_while_cached_stops_the_token(cluster, uniq):
    ns = uniq("ns")
    ident = cluster.add_identity(ns, uniq("id"))
    binding = uniq("bind")
    cluster.bind(ns, binding, ident, "sel-" + binding)
    pod = cluster.add_pod(uniq("pod"), ns, binding="sel-" + binding, settle=False)
    cluster.assign(pod, ident)
    cluster.settle()
    assert_token_for(cluster.token(pod), ident)
    cluster.unbind(ns, binding)      # MIC has not yet removed the AzureAssignedIdentity
    cluster.settle()
    r = cluster.token(pod)
    assert_no_token(r)
    assert r.status in (400, 404), str(r)


def test_pod_deleted_while_its_keep_alive_connection_is_open_gets_no_token(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    with cluster.connect(pod) as conn:
        assert_token_for(conn.request("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT),
                         ident)
        cluster.delete_pod_object(pod)    # the pod's process keeps running, as during graceful termination
        cluster.settle()
        r = conn.request("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT)
        assert_no_token(r)
    cluster.remove_pod(pod)


def test_pod_whose_address_is_not_the_connections_source_is_refused(cluster, uniq):
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    before = cluster.metric("podid_pod_resolution_failures_total", reason="source_ip_mismatch")
    # The API now says the pod has another address than the one it connects from.
    cluster.api.patch("pods", pod.name, {"status": {"podIP": "10.244.1.250", "podIPs": [{"ip": "10.244.1.250"}]}},
                      pod.namespace, subresource="status")
    cluster.settle()
    r = cluster.token(pod, resource=ARM_RESOURCE)
    assert r.status == 403, str(r)
    assert_no_token(r)
    assert cluster.metric("podid_pod_resolution_failures_total", reason="source_ip_mismatch") == before + 1


def test_spoofing_another_pods_address_gets_nothing_of_its_identity(cluster, uniq):
    victim, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(victim), ident)
    attacker = cluster.add_pod(uniq("attacker"), victim.namespace)
    upstream_before = len(cluster.imds_token_requests())
    served_before = [l for l in cluster.audit_lines() if l.get("decision") == "served"]
    # IP_TRANSPARENT (CAP_NET_RAW, which containerd grants) makes the kernel send with the victim's address as
    # source; the answers go to the victim, and the kernel attributes the connection to the attacker's cgroup.
    for resource in (VAULT, ARM_RESOURCE):
        r = cluster.http(attacker, f"/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}",
                         bind=victim.ip, freebind=True, transparent=True, cap_net_raw=True,
                         client_timeout=2)
        assert_no_token(r)
    # And straight to the agent's own address (no kernel record), with and without the victim's address.
    for bind in (None, victim.ip):
        r = cluster.http(attacker, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + VAULT,
                         host=cluster.node.agent_addr, port=cluster.agent.port, bind=bind, freebind=bool(bind),
                         transparent=bool(bind),
                         client_timeout=2)
        assert_no_token(r)
    # Its own, unbound identity: nothing either.
    assert_identity_not_found(cluster.token(attacker, client_id=ident.client_id))
    served_after = [l for l in cluster.audit_lines() if l.get("decision") == "served"]
    assert [l for l in served_after if l not in served_before] == []      # nothing served to anyone meanwhile
    assert len(cluster.imds_token_requests()) == upstream_before
