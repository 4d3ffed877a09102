# SPDX-License-Identifier: Apache-2.0
"""TokenRequest as podid's federated path relies on it (docs/security.md): a kubelet's client certificate
mints tokens only for pods bound to its node (Node authorizer + NodeRestriction, audience restriction included),
any caller is held to the registry's rules (the pod's own service account, its uid, ten minutes at least), and
the fallback service account needs `create serviceaccounts/token`. Each rule is shown refusing what it should."""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import jwt
import pytest

from conftest import Client, pod
from podid_harness.azure.tlsca import TestCA

AUDIENCE = "api://AzureADTokenExchange"
AUDIENCE_RULE = (["request-serviceaccounts-token-audience"], [""], [AUDIENCE])


class CertClient:
    """Calls the stand-in with a client certificate instead of a bearer token."""

    def __init__(self, api, tmp_path, cert_pem: bytes, key_pem: bytes) -> None:
        path = tmp_path / f"client-{id(self)}.pem"
        path.write_bytes(cert_pem + key_pem)
        self.api = api
        self.ctx = api.ssl_context()
        self.ctx.load_cert_chain(str(path))

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.api.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def node_client(api, tmp_path, node: str) -> CertClient:
    issued = api.client_certificate(f"system:node:{node}", ["system:nodes"])
    return CertClient(api, tmp_path, issued.cert_pem, issued.key_pem)


def token_request(name: str, uid, audiences=(AUDIENCE,), seconds: int = 3600, ref: bool = True) -> dict:
    spec = {"audiences": list(audiences), "expirationSeconds": seconds}
    if ref:
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def path(sa: str = "app", ns: str = "team") -> str:
    return f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"


@pytest.fixture
def cluster(api, client):
    """Two nodes; pod `web` on node-a and `db` on node-b, both running as service account team/app."""
    for node in ("node-a", "node-b"):
        client.ok("POST", "/api/v1/nodes", {"metadata": {"name": node}})
    client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    client.ok("POST", "/api/v1/namespaces/team/serviceaccounts", {"metadata": {"name": "app"}})
    client.ok("POST", "/api/v1/namespaces/team/serviceaccounts", {"metadata": {"name": "other"}})
    pods = {}
    for name, node in (("web", "node-a"), ("db", "node-b")):
        p = pod(name, node, ns="team")
        p["spec"]["serviceAccountName"] = "app"
        pods[name] = client.ok("POST", "/api/v1/namespaces/team/pods", p)
    api.grant_group("system:nodes", [AUDIENCE_RULE])
    return pods


def uid(p: dict) -> str:
    return p["metadata"]["uid"]


def forbidden(result, message: str) -> None:
    status, body = result[0], result[1]
    assert (status, body["reason"]) == (403, "Forbidden"), body
    assert body["message"] == message, body["message"]


def test_a_node_mints_a_pod_bound_token_for_its_own_pod(api, tmp_path, cluster):
    status, tr = node_client(api, tmp_path, "node-a").call("POST", path(), token_request("web", uid(cluster["web"])))
    assert status == 201, tr
    claims = jwt.decode(tr["status"]["token"], options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:team:app" and claims["aud"] == [AUDIENCE]
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": uid(cluster["web"])}
    assert claims["kubernetes.io"]["node"]["name"] == "node-a"      # ServiceAccountTokenPodNodeInfo
    assert api.requests(verb="create", resource="serviceaccounts")[-1]["user"] == "system:node:node-a"


def test_a_node_cannot_mint_for_a_pod_on_another_node(api, tmp_path, cluster):
    forbidden(node_client(api, tmp_path, "node-a").call("POST", path(), token_request("db", uid(cluster["db"]))),
              'serviceaccounts "app" is forbidden: node requested token bound to a pod scheduled on a different node')


def test_node_restriction_wants_a_pod_binding_with_its_uid(api, tmp_path, cluster):
    node = node_client(api, tmp_path, "node-a")
    forbidden(node.call("POST", path(), token_request("web", uid(cluster["web"]), ref=False)),
              'serviceaccounts "app" is forbidden: node requested token not bound to a pod')
    forbidden(node.call("POST", path(), token_request("web", "")),
              'serviceaccounts "app" is forbidden: node requested token with a pod binding without a uid')
    forbidden(node.call("POST", path(), token_request("web", "0000-stale")),
              f'serviceaccounts "app" is forbidden: the UID in the bound object reference (0000-stale) does not '
              f'match the UID in record ({uid(cluster["web"])}). The object might have been deleted and then '
              f'recreated')


def test_node_authorizer_refuses_service_accounts_no_pod_of_the_node_uses(api, tmp_path, cluster):
    forbidden(node_client(api, tmp_path, "node-a").call("POST", path("other"), token_request("web", uid(cluster["web"]))),
              'serviceaccounts "other" is forbidden: User "system:node:node-a" cannot create resource '
              '"serviceaccounts/token" in API group "" in the namespace "team": no relationship found between '
              "node 'node-a' and this object")


def test_audience_restriction(api, tmp_path, client, cluster):
    node = node_client(api, tmp_path, "node-a")
    web = uid(cluster["web"])
    forbidden(node.call("POST", path(), token_request("web", web, audiences=("api://Other",))),
              'serviceaccounts "app" is forbidden: audience "api://Other" not found in pod spec volume, '
              "system:node:node-a is not authorized to request tokens for this audience")
    forbidden(node.call("POST", path(), token_request("web", web, audiences=(AUDIENCE, "api://Other"))),
              'serviceaccounts "app" is forbidden: node may only request 0 or 1 audiences')
    # An audience the pod's own projected volume names needs no grant (what azwi's webhook adds to pods).
    p = pod("vol", "node-a", ns="team")
    p["spec"].update(serviceAccountName="app", volumes=[{"name": "t", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "api://Other", "path": "t"}}]}}])
    vol = client.ok("POST", "/api/v1/namespaces/team/pods", p)
    assert node.call("POST", path(), token_request("vol", uid(vol), audiences=("api://Other",)))[0] == 201


def test_registry_rules_hold_for_every_caller(client, cluster):
    status, body, _ = client.call("POST", path("other"), token_request("web", uid(cluster["web"])))
    assert (status, body["message"]) == (400, 'cannot bind token for serviceaccount "other" to pod running with '
                                              'different serviceaccount name.'), body
    status, body, _ = client.call("POST", path(), token_request("web", "0000-stale"))
    assert (status, body["reason"]) == (409, "Conflict"), body
    status, body, _ = client.call("POST", path(), token_request("web", uid(cluster["web"]), seconds=599))
    assert (status, body["reason"]) == (422, "Invalid") and "less than 10 minutes" in body["message"], body
    status, body, _ = client.call("POST", path(), token_request("ghost", "x"))
    assert (status, body["message"]) == (404, 'pods "ghost" not found'), body


def test_the_fallback_service_account_needs_create_serviceaccounts_token(api, cluster):
    user = "system:serviceaccount:podid-system:podid-agent"
    token = api.add_token(user, [])
    status, body, _ = Client(api, token).call("POST", path(), token_request("db", uid(cluster["db"])))
    assert (status, body["message"]) == (403, f'serviceaccounts "app" is forbidden: User "{user}" cannot create '
                                              f'resource "serviceaccounts/token" in API group "" in the namespace '
                                              f'"team"'), body
    api.grant(user, [(["create"], [""], ["serviceaccounts/token"])])
    # Not a node: nothing confines it to one node's pods, which is what the fallback costs.
    assert Client(api, token).call("POST", path(), token_request("db", uid(cluster["db"])))[0] == 201


def test_a_certificate_of_another_ca_is_refused(api, tmp_path, cluster):
    with TestCA(common_name="not the cluster's client CA") as other:
        cert = other.issue_client("system:node:node-a")
        client = CertClient(api, tmp_path, cert.cert_pem, cert.key_pem)
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            client.call("POST", path(), token_request("web", uid(cluster["web"])))


def test_signing_key_rotation(api, client, cluster):
    old = client.ok("POST", path(), token_request("web", uid(cluster["web"])))["status"]["token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    api.rotate_signing_key(keep_old=True)
    new = client.ok("POST", path(), token_request("web", uid(cluster["web"])))["status"]["token"]
    assert jwt.get_unverified_header(new)["kid"] != old_kid
    assert {k["kid"] for k in api.jwks()["keys"]} == {old_kid, jwt.get_unverified_header(new)["kid"]}
    api.rotate_signing_key(keep_old=False)
    assert old_kid not in {k["kid"] for k in api.jwks()["keys"]} and len(api.jwks()["keys"]) == 1
