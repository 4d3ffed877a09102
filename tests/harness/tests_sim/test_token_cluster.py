# SPDX-License-Identifier: Apache-2.0
"""TokenCluster without the agent: every stand-in listens where the agent and the pods expect it, inside the
node's namespace only, and the helpers write the objects aad-pod-identity's MIC would."""
from __future__ import annotations

import json
import socket

import pytest

from podid_harness.token_cluster import GROUP, TokenCluster

# GET a URL from wherever this runs; print status and body.
GET = ("import json,ssl,sys,urllib.request,urllib.error\n"
       "ctx=ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv)>3 and sys.argv[3] else None\n"
       "req=urllib.request.Request(sys.argv[1], headers=json.loads(sys.argv[2]))\n"
       "try:\n r=urllib.request.urlopen(req, timeout=5, context=ctx); print(r.status, r.read().decode())\n"
       "except urllib.error.HTTPError as e:\n print(e.code, e.read().decode())\n")


@pytest.fixture
def bare(root, tmp_path):
    with TokenCluster(tmp_path, start_agent=False) as c:
        yield c


def _get(where, url: str, headers=None, ca: str = "") -> tuple[int, str]:
    out = where.run(["/usr/bin/python3", "-c", GET, url, json.dumps(headers or {}), ca], check=True)
    status, _, body = out.stdout.strip().partition(" ")
    return int(status), body


def test_stand_ins_listen_in_the_node_only(bare):
    node = bare.node
    status, body = _get(node, "http://169.254.169.254/metadata/identity/info?api-version=2018-02-01",
                        {"Metadata": "true"})
    assert (status, json.loads(body)) == (200, {"tenantId": bare.cloud.tenant_id})
    status, _ = _get(node, bare.api.url + "/apis/aadpodidentity.k8s.io/v1", {
        "Authorization": f"Bearer {bare.agent_token}"}, bare.ca.bundle_path)
    assert status == 200
    pod = bare.add_pod("p1", "team-a")
    # Pods reach Entra and Key Vault over the bridge, with the test CA.
    assert _get(pod, bare.keyvault_server.url + "/secrets/x?api-version=7.4", ca=bare.ca.bundle_path)[0] == 401
    assert _get(pod, bare.entra_server.url + f"/{bare.issuer.tenant_id}/v2.0/.well-known/openid-configuration",
                ca=bare.ca.bundle_path)[0] == 200
    # Nothing of it is in the test's own namespace.
    with socket.socket() as s:
        s.settimeout(0.5)
        assert s.connect_ex(("127.0.0.1", bare.api.port)) != 0


def test_objects_as_mic_writes_them(bare):
    ident = bare.add_identity("team-a", "web-id")
    bare.bind("team-a", "web-binding", ident, "web")
    pod = bare.add_pod("web-0", "team-a", binding="web", settle=False)
    aai = bare.assign(pod, ident)
    assert aai["metadata"]["name"] == "web-0-team-a-web-id"
    assert aai["metadata"]["namespace"] == "default"
    assert aai["metadata"]["labels"] == {"nodename": "node-a"}
    assert aai["spec"]["pod"] == "web-0" and aai["spec"]["podNamespace"] == "team-a"
    assert aai["spec"]["nodename"] == "node-a"
    assert aai["spec"]["azureIdentityRef"]["spec"]["clientID"] == ident.client_id
    assert aai["spec"]["azureBindingRef"]["metadata"]["name"] == "web-binding"
    assert aai["status"]["status"] == "Assigned"
    assert ident.resource_id.lower() in bare.cloud.assigned_ids(bare.vmss.resource_id)
    listed = bare.api.list("azureassignedidentities." + GROUP, "", label_selector="nodename=node-a")
    assert [o["metadata"]["name"] for o in listed] == ["web-0-team-a-web-id"]
    assert bare.set_assignment_state(pod, ident, "Unassigned")["status"]["status"] == "Unassigned"
    bare.unassign(pod, ident)
    assert bare.api.list("azureassignedidentities." + GROUP) == []
    assert bare.api.get("pods", "web-0", "team-a")["status"]["podIP"] == pod.ip
    bare.remove_pod(pod)
    assert bare.api.find("pods", "web-0", "team-a") is None
