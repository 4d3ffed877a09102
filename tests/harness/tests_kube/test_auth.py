# SPDX-License-Identifier: Apache-2.0
"""Bearer tokens, per-user rules with the real 403 message, and TokenRequest JWTs verified with the published
OIDC discovery documents."""
import json
import time
import urllib.request

import jwt
import pytest

from conftest import Client, pod
from podid_harness.kube import Rule

PODS = "/api/v1/namespaces/default/pods"


def test_missing_or_unknown_token_is_401(api):
    for token in ("", "not-a-token"):
        status, body, _ = Client(api, token).call("GET", PODS)
        assert (status, body["reason"], body["message"]) == (401, "Unauthorized", "Unauthorized")


@pytest.mark.parametrize("method,path,message", [
    ("GET", PODS, 'pods is forbidden: User "agent" cannot list resource "pods" in API group "" in the namespace '
                  '"default"'),
    ("GET", PODS + "/x", 'pods "x" is forbidden: User "agent" cannot get resource "pods" in API group "" in the '
                         'namespace "default"'),
    ("GET", "/api/v1/nodes", 'nodes is forbidden: User "agent" cannot list resource "nodes" in API group "" at '
                             'the cluster scope'),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?watch=1",
     'leases.coordination.k8s.io is forbidden: User "agent" cannot watch resource "leases" in API group '
     '"coordination.k8s.io" in the namespace "kube-system"'),
    ("PUT", PODS + "/x/status", 'pods "x" is forbidden: User "agent" cannot update resource "pods/status" in API '
                                'group "" in the namespace "default"'),
])
def test_forbidden_message_shape(api, method, path, message):
    token = api.add_token("agent", [("get", "", "secrets")])
    status, body, _ = Client(api, token).call(method, path, {} if method == "PUT" else None)
    assert (status, body["reason"], body["message"]) == (403, "Forbidden", message)


def test_rules_allow_what_they_name(api):
    token = api.add_token("agent", [Rule(("list", "watch"), ("",), ("pods",)),
                                    {"verbs": ["get"], "groups": [""], "resources": ["secrets"],
                                     "namespace": "kube-system"}])
    c = Client(api, token)
    assert c.call("GET", "/api/v1/pods")[0] == 200
    assert c.call("GET", "/api/v1/namespaces/kube-system/secrets/s")[0] == 404   # allowed, just absent
    assert c.call("GET", "/api/v1/namespaces/default/secrets/s")[0] == 403
    assert c.call("POST", PODS, pod("a"))[0] == 403
    assert c.call("GET", "/api/v1")[0] == 200                                   # discovery: any authenticated
    assert api.requests(verb="create", resource="pods", user="agent")[0]["code"] == 403


def test_token_request_jwt_verifies_with_published_jwks(api, client):
    p = client.ok("POST", PODS, pod("web"))
    tr = client.ok("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                   {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 3600,
                             "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web",
                                                "uid": p["metadata"]["uid"]}}})
    token = tr["status"]["token"]
    ctx = api.ssl_context()
    conf = json.load(urllib.request.urlopen(api.issuer + "/.well-known/openid-configuration", context=ctx))
    assert conf["issuer"] == api.issuer
    jwks = json.load(urllib.request.urlopen(conf["jwks_uri"], context=ctx))
    assert jwks == api.jwks()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="api://AzureADTokenExchange",
                        issuer=api.issuer)
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": p["metadata"]["uid"]}
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "default"
    assert abs(claims["exp"] - (time.time() + 3600)) < 5


def test_token_request_errors_and_sa_token_auth(api, client):
    path = "/api/v1/namespaces/default/serviceaccounts/default/token"
    assert client.call("POST", path, {"spec": {"expirationSeconds": 60}})[0] == 422
    assert client.call("POST", "/api/v1/namespaces/default/serviceaccounts/ghost/token", {"spec": {}})[0] == 404
    assert client.call("POST", path, {"spec": {"boundObjectRef": {"kind": "Pod", "name": "ghost"}}})[0] == 404
    token = client.ok("POST", path, {"spec": {}})["status"]["token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == [api.issuer]
    sa = Client(api, token)
    status, body, _ = sa.call("GET", PODS)
    assert status == 403 and 'User "system:serviceaccount:default:default"' in body["message"]
    api.grant("system:serviceaccount:default:default", [("list", "", "pods")])
    assert sa.call("GET", PODS)[0] == 200
