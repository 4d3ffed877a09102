# SPDX-License-Identifier: Apache-2.0
"""Federated identities end to end (issue 13): a pod asks 169.254.169.254 as on any Azure VM; the agent mints a
service-account token bound to that pod with the node's kubelet credential, exchanges it at the Entra emulator,
which checks it against the API stand-in's OIDC documents and the identity's federated credentials, and answers
in IMDS's format. No identity is on the scale set, no AzureAssignedIdentity exists (the cluster is in standard
mode). Under Azure Workload Identity's conventions and under podid's CRDs; every failure the issue lists."""
from __future__ import annotations

import json
import time

from helpers import assert_no_token, assert_token_for, bound_pod, json_error

from podid_harness.token_cluster import ARM_RESOURCE, TOKEN_AUDIENCE, VAULT, decode_jwt

WI_LABEL = {"azure.workload.identity/use": "true"}


def federated_pod(c, uniq, *, ns=None, sa=None, ident=None, crd=False):
    """A namespace, a service account, an identity federated for it, and a pod running as it: under azwi's
    conventions (the default), or bound through a federated AzureIdentity (`crd`)."""
    ns, sa = ns or uniq("ns"), sa or uniq("sa")
    if ident is None:
        ident = c.add_federated_identity(ns, uniq("fid"), subjects=[(ns, sa)], crd=crd)
    if crd:
        selector = uniq("sel")
        c.service_account(ns, sa)
        c.bind(ns, uniq("bind"), ident, selector)
        pod = c.add_pod(uniq("pod"), ns, binding=selector, service_account=sa)
    else:
        c.service_account(ns, sa, client_id=ident.client_id)
        pod = c.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sa)
    return pod, ident


def token_requests(c, pod=None) -> list[dict]:
    """The TokenRequests the agent made (for one pod: its namespace and service account)."""
    out = [e for e in c.api.requests(verb="create", resource="serviceaccounts") if e.get("subresource") == "token"]
    if pod is not None:
        out = [e for e in out if e["namespace"] == pod.namespace]
    return out


def exchanges(c, client_id: str) -> list:
    return [r for r in c.entra.token_log if r.credential == "federated" and r.form.get("client_id") == client_id]


def failures(c, reason: str) -> float:
    return c.metric("podid_federated_failures_total", reason=reason)


def test_azwi_conventions_get_the_identity_through_the_exchange(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq)
    r = cluster.token(pod)
    assert_token_for(r, ident)
    # The service-account token: minted by this node's kubelet credential, bound to the pod by name and uid.
    (tr,) = token_requests(cluster, pod)
    assert tr["user"] == f"system:node:{cluster.node_name}" and tr["code"] == 201, tr
    (exchange,) = exchanges(cluster, ident.client_id)
    assertion = decode_jwt(exchange.form["client_assertion"])
    assert assertion["sub"] == f"system:serviceaccount:{pod.namespace}:{pod.service_account}"
    assert assertion["aud"] == [TOKEN_AUDIENCE] and assertion["iss"] == cluster.api.issuer
    assert assertion["kubernetes.io"]["pod"] == {"name": pod.name, "uid": pod.uid}
    assert 3590 <= assertion["exp"] - assertion["iat"] <= 3610
    assert exchange.form["scope"] == VAULT + "/.default"
    # Nothing went through the node's IMDS, and the audit line names the service account.
    assert not [e for e in cluster.imds_token_requests() if ident.client_id in e.raw_path]
    (line,) = cluster.wait_audit(lambda l: l.get("pod") == pod.name and l["decision"] == "served")
    assert line["reason"] == "federated" and line["subject"] == assertion["sub"], line


def test_podid_crds_federated_identity_needs_no_assignment(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq, crd=True)
    claims = assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
    assert claims["aud"] == ARM_RESOURCE
    assert cluster.api.list("azureassignedidentities.aadpodidentity.k8s.io", pod.namespace) == []
    assert ident.resource_id.lower() not in cluster.cloud.assigned_ids(cluster.vmss.resource_id)


def test_pods_sharing_a_service_account_share_one_exchange(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    first, ident = federated_pod(cluster, uniq, ns=ns, sa=sa)
    second = cluster.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sa)
    a, b = cluster.token(first), cluster.token(second)
    assert_token_for(a, ident)
    assert_token_for(b, ident)
    assert a.json()["access_token"] == b.json()["access_token"]
    assert len(exchanges(cluster, ident.client_id)) == 1
    assert len(token_requests(cluster, first)) == 1      # the second pod never needed its own


def test_service_accounts_of_one_namespace_never_get_each_others(cluster, uniq):
    ns = uniq("ns")
    pod_a, ident_a = federated_pod(cluster, uniq, ns=ns)
    pod_b, ident_b = federated_pod(cluster, uniq, ns=ns)
    assert_token_for(cluster.token(pod_a), ident_a)
    assert_token_for(cluster.token(pod_b), ident_b)
    r = cluster.token(pod_b, client_id=ident_a.client_id)
    assert r.status == 400 and json.loads(r.body)["error_description"] == "Identity not found", str(r)
    # Even a service account claiming the other's client id gets nothing: Entra matches the subject.
    sneaky_sa = uniq("sa")
    cluster.service_account(ns, sneaky_sa, client_id=ident_a.client_id)
    sneaky = cluster.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sneaky_sa)
    r = cluster.token(sneaky)
    assert_no_token(r)
    assert r.status == 400 and json_error(r)["error"] == "invalid_client", str(r)


def test_missing_federated_credential_names_the_command_then_follows_its_creation(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    ident = cluster.add_federated_identity(ns, uniq("fid"), crd=False)          # no credential yet
    pod, _ = federated_pod(cluster, uniq, ns=ns, sa=sa, ident=ident)
    before = failures(cluster, "no_federated_credential")
    r = cluster.token(pod)
    assert r.status == 400, str(r)
    text = json_error(r)["error_description"]
    subject = f"system:serviceaccount:{ns}:{sa}"
    # From an annotation only the client id is known: the identity's name and group are left to fill in.
    assert (f"az identity federated-credential create --name podid-{ns}-{sa} --identity-name <identity-name> "
            "--resource-group <resource-group>") in text, text
    assert f"--issuer '{cluster.api.issuer}' --subject '{subject}'" in text and "AADSTS700211" in text, text
    assert failures(cluster, "no_federated_credential") == before + 1
    (line,) = cluster.wait_audit(lambda l: l.get("pod") == pod.name and l["decision"] == "upstream_error")
    assert line["reason"] == "no_federated_credential" and line["subject"] == subject, line
    cluster.federate(ident, ns, sa)
    assert_token_for(cluster.token(pod), ident)


def test_missing_credential_of_a_crd_identity_names_it_and_its_group(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    ident = cluster.add_federated_identity(ns, uniq("fid"))                      # CRD, no credential
    pod, _ = federated_pod(cluster, uniq, ns=ns, sa=sa, ident=ident, crd=True)
    text = json_error(cluster.token(pod))["error_description"]
    assert (f"az identity federated-credential create --name podid-{ns}-{sa} --identity-name {ident.azure.name} "
            f"--resource-group podid-workloads --issuer '{cluster.api.issuer}' "
            f"--subject 'system:serviceaccount:{ns}:{sa}' --audiences '{TOKEN_AUDIENCE}'") in text, text
    assert f"(from AzureIdentity {ns}/{ident.name})" in text, text


def test_service_account_without_the_annotation(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    cluster.service_account(ns, sa)
    pod = cluster.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sa)
    before = failures(cluster, "service_account_not_annotated")
    r = cluster.token(pod)
    assert r.status == 400, str(r)
    text = json_error(r)["error_description"]
    assert f"service account {ns}/{sa} has no azure.workload.identity/client-id annotation" in text, text
    assert failures(cluster, "service_account_not_annotated") == before + 1
    assert not token_requests(cluster, pod)


def test_unknown_client_id(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    cluster.service_account(ns, sa, client_id="0badc0de-0000-4000-8000-000000000000")
    pod = cluster.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sa)
    r = cluster.token(pod)
    assert r.status == 400, str(r)
    text = json_error(r)["error_description"]
    assert "knows no application or managed identity with client id 0badc0de-0000-4000-8000-000000000000" in text
    assert failures(cluster, "unknown_client_id") >= 1


def test_reannotated_service_account_follows_the_new_client_id(cluster, uniq):
    ns, sa = uniq("ns"), uniq("sa")
    pod, first = federated_pod(cluster, uniq, ns=ns, sa=sa)
    second = cluster.add_federated_identity(ns, uniq("fid"), subjects=[(ns, sa)], crd=False)
    assert_token_for(cluster.token(pod), first)
    cluster.service_account(ns, sa, client_id=second.client_id)
    cluster.settle()
    assert_token_for(cluster.token(pod), second)


def test_rotated_issuer_keys_get_a_fresh_assertion(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    cluster.api.rotate_signing_key(keep_old=False)     # the cached service-account token's key is gone
    cluster.entra.oidc.forget()
    assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)
    codes = [r.status for r in exchanges(cluster, ident.client_id)]
    assert codes == [200, 401, 200], codes                # rejected (700027), then a fresh token passes
    assert len(token_requests(cluster, pod)) == 2


def test_token_request_refused_or_failing(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq)
    cluster.api.faults.fail_next(1, 403, path_regex=r"/serviceaccounts/[^/]+/token")
    r = cluster.token(pod)
    assert r.status == 403, str(r)
    text = json_error(r)["error_description"]
    assert "refused podid-agent a token" in text and "kubelet credential" in text, text
    cluster.api.faults.fail_next(1, 500, path_regex=r"/serviceaccounts/[^/]+/token")
    r = cluster.token(pod)
    assert r.status == 503 and "retry-after" in r.headers, str(r)
    assert_token_for(cluster.wait_token(pod, timeout=15), ident)


def test_a_stolen_or_wrong_kubelet_credential_mints_nothing_for_this_nodes_pods(cluster, uniq, tmp_path):
    """The node confinement the design relies on, through the agent: with another node's credential (re-read at
    the next TokenRequest, as after a kubelet certificate rotation) every TokenRequest is refused by the Node
    authorizer; with its own again, it works."""
    pod, ident = federated_pod(cluster, uniq)
    cluster.api.create_node({"metadata": {"name": "node-z"}})
    cluster.api.node_kubeconfig(cluster.kubelet_kubeconfig, "node-z")
    try:
        r = cluster.token(pod)
        assert r.status == 403, str(r)
        assert "no relationship found between node 'node-z'" in json_error(r)["error_description"], str(r)
    finally:
        cluster.api.node_kubeconfig(cluster.kubelet_kubeconfig, cluster.node_name)
    assert_token_for(cluster.token(pod), ident)
    assert [e["user"] for e in token_requests(cluster, pod)] == ["system:node:node-z", f"system:node:{cluster.node_name}"]


def test_a_pod_on_another_node_is_not_served(cluster, uniq):
    """A pod the API places on node-b has no business with node-a's agent, even if a process of it runs here."""
    ns, sa = uniq("ns"), uniq("sa")
    ident = cluster.add_federated_identity(ns, uniq("fid"), subjects=[(ns, sa)], crd=False)
    cluster.service_account(ns, sa, client_id=ident.client_id)

    class ElsewhereApi:
        def create_pod(self, manifest):
            manifest["spec"]["nodeName"] = "node-b"
            return cluster.api.create_pod(manifest)

        def delete_pod(self, namespace, name):
            return cluster.api.delete_pod(namespace, name)

    pod = cluster.add_pod(uniq("pod"), ns, labels=WI_LABEL, service_account=sa, api=ElsewhereApi())
    r = cluster.token(pod)
    assert_no_token(r)
    assert not token_requests(cluster, pod)


def _api_reachable(cluster, value: float, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.metric("podid_k8s_api_reachable") == value:
            return True
        time.sleep(0.2)
    return False


def test_api_server_down_known_pods_keep_serving_unknown_get_nothing(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    cluster.api.down()
    try:
        assert _api_reachable(cluster, 0)
        assert_token_for(cluster.token(pod), ident)                                    # the access token, cached
        assert_token_for(cluster.token(pod, resource=ARM_RESOURCE), ident, ARM_RESOURCE)  # the SA token, cached
        newcomer = cluster.add_pod(uniq("pod"), pod.namespace, labels=WI_LABEL, service_account=pod.service_account,
                                   settle=False)
        assert_no_token(cluster.token(newcomer))
    finally:
        cluster.api.up()
    assert _api_reachable(cluster, 1)
    assert_token_for(cluster.wait_token(newcomer, timeout=15), ident)


def test_entra_throttling_is_honoured_with_one_call(cluster, uniq):
    pod, ident = federated_pod(cluster, uniq)
    fault = cluster.entra.faults.add(429, retry_after=3, count=1, path_regex=r"/oauth2/v2\.0/token")
    try:
        calls = len(cluster.entra.token_log)
        r = cluster.token(pod)
        assert r.status == 429 and 1 <= int(r.headers.get("retry-after", "0")) <= 3, str(r)
        for _ in range(3):
            assert cluster.token(pod).status == 429
        assert fault.hits == 1 and len(cluster.entra.token_log) == calls   # the fault answered before logging
    finally:
        fault.count = fault.hits
    time.sleep(3.2)
    assert_token_for(cluster.token(pod), ident)


def test_standard_and_federated_pods_on_one_node(cluster, uniq):
    standard, (uami,) = bound_pod(cluster, uniq)
    federated, ident = federated_pod(cluster, uniq)
    assert_token_for(cluster.token(standard), uami)
    assert_token_for(cluster.token(federated), ident)
    via_imds = {q for e in cluster.imds_token_requests() for q in e.query.get("client_id", [])}
    assert uami.client_id in via_imds and ident.client_id not in via_imds
    assert exchanges(cluster, ident.client_id) and not exchanges(cluster, uami.client_id)
    assert cluster.metric("podid_upstream_requests_total", upstream="kubernetes", status="201") >= 1
