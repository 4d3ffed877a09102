# SPDX-License-Identifier: Apache-2.0
"""The controller cluster itself, without podid-controller: what the controller will be given works the way
the controller must use it (a service-principal token from the Entra emulator through the custom cloud file,
ARM calls allowed by exactly the roles granted, the API objects the controller reads). If one of these fails,
the controller's tests cannot tell a controller bug from a broken fixture."""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest

from podid_harness.controller_cluster import (AAI, CONTROLLER_NS, MI_OPERATOR, NODE_RG, VM_CONTRIBUTOR,
                                              ControllerCluster, parse_samples, provider_id, wait_for)
from podid_harness.azure.state import rg_id

API_VERSION = "2019-12-01"


def _https(c: ControllerCluster, method: str, url: str, body: bytes | None = None,
           headers: dict | None = None) -> tuple[int, dict, dict]:
    ctx = ssl.create_default_context(cafile=c.ca.bundle_path)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def _sp_token(c: ControllerCluster) -> str:
    env = json.loads(c.environment_file.read_text())
    cfg = json.loads(c.cloud_config.read_text())
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cfg["aadClientId"],
                                   "client_secret": cfg["aadClientSecret"], "resource": env["tokenAudience"]})
    status, _, body = _https(c, "POST", f"{env['activeDirectoryEndpoint'].rstrip('/')}/{cfg['tenantId']}"
                             "/oauth2/token", form.encode(),
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    return body["access_token"]


def _arm(c: ControllerCluster, method: str, resource_id: str, token: str, body: dict | None = None):
    env = json.loads(c.environment_file.read_text())
    url = f"{env['resourceManagerEndpoint'].rstrip('/')}{resource_id}?api-version={API_VERSION}"
    data = json.dumps(body).encode() if body is not None else None
    return _https(c, method, url, data, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def test_cloud_files_name_the_emulators_and_the_service_principal(cluster):
    env = json.loads(cluster.environment_file.read_text())
    cfg = json.loads(cluster.cloud_config.read_text())
    assert env["name"] == cfg["cloud"] == "AzureStackCloud"
    assert env["resourceManagerEndpoint"].startswith("https://127.0.0.1:")
    assert env["activeDirectoryEndpoint"].startswith("https://127.0.0.1:")
    assert env["tokenAudience"] == "https://management.azure.com/"
    assert cfg["aadClientId"] == cluster.sp.client_id and cfg["aadClientSecret"] == cluster.secret
    assert cfg["useManagedIdentityExtension"] is False and cfg["resourceGroup"] == NODE_RG
    assert cluster.crd_source in ("deploy/crds", "tests/harness/tests_kube/fixtures")


def test_granted_roles_allow_get_and_patch_and_a_withheld_operator_role_is_refused(cluster):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
    ok = cluster.add_identity("shop", "ok-id")
    no_role = cluster.add_identity("shop", "norole-id", grant_operator=False)
    token = _sp_token(cluster)
    status, _, vmss = _arm(cluster, "GET", pool.resource_id, token)
    assert status == 200 and vmss["name"] == pool.name, vmss
    status, headers, body = _arm(cluster, "PATCH", pool.resource_id, token,
                                 {"identity": {"type": "UserAssigned",
                                               "userAssignedIdentities": {ok.resource_id: {}}}})
    assert status == 200 and "Azure-AsyncOperation" in headers, (status, body)
    status, _, body = _arm(cluster, "PATCH", pool.resource_id, token,
                           {"identity": {"type": "UserAssigned",
                                         "userAssignedIdentities": {no_role.resource_id: {}}}})
    assert status == 403 and body["error"]["code"] == "LinkedAuthorizationFailed", body
    assert no_role.resource_id in body["error"]["message"]
    assert cluster.arm.counters["PATCH vmss"] == 2
    assert len(cluster.arm_calls("PATCH vmss", pool)) == 2


def test_without_vm_contributor_arm_refuses_the_scale_set(tmp_path):
    with ControllerCluster(tmp_path, grant_vm_contributor=False) as c:
        pool = c.add_scale_set(NODE_RG, "aks-pool1", nodes=1)
        status, _, body = _arm(c, "GET", pool.resource_id, _sp_token(c))
        assert status == 403 and body["error"]["code"] == "AuthorizationFailed", body
        c.grant(VM_CONTRIBUTOR, rg_id(c.subscription, NODE_RG))
        assert _arm(c, "GET", pool.resource_id, _sp_token(c))[0] == 200


def test_revoke_takes_a_role_away(cluster):
    ident = cluster.add_identity("shop", "id-a")
    assert cluster.cloud.allowed(cluster.principal_id, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
                                 ident.resource_id)
    cluster.revoke(MI_OPERATOR, ident.resource_id)
    assert not cluster.cloud.allowed(cluster.principal_id,
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
                                     ident.resource_id)


def test_nodes_pods_identities_and_bindings_are_api_objects(cluster):
    pool = cluster.add_scale_set(NODE_RG, "aks-pool1", nodes=3)
    vm = cluster.add_vm(NODE_RG, "aks-standalone-0")
    assert pool.nodes == ["aks-pool1000000", "aks-pool1000001", "aks-pool1000002"]
    node = cluster.api.get("nodes", pool.nodes[2], "")
    assert node["spec"]["providerID"] == f"azure://{pool.resource_id}/virtualMachines/2"
    assert cluster.api.get("nodes", "aks-standalone-0", "")["spec"]["providerID"] == provider_id(vm.compute)
    ident = cluster.add_identity("shop", "web-id")
    cluster.bind("shop", ident, "web")
    pod = cluster.add_pod("shop", "web-0", pool.nodes[0], selector="web")
    obj = cluster.api.get("pods", "web-0", "shop")
    assert obj["metadata"]["labels"]["aadpodidbinding"] == "web" and obj["spec"]["nodeName"] == pool.nodes[0]
    assert cluster.identities_of(pod) == [ident]
    assert cluster.identity_cr(ident)["spec"]["resourceID"] == ident.resource_id
    assert cluster.aai_name(pod, ident) == "web-0-shop-web-id"
    assert cluster.aai(pod, ident) is None
    with pytest.raises(AssertionError, match="timed out"):
        cluster.wait_assigned(pod, timeout=0.3)
    cluster.move_node(pool.nodes[0], vm)
    assert cluster.api.get("nodes", pool.nodes[0], "")["spec"]["providerID"] == provider_id(vm.compute)
    cluster.delete_pod(pod)
    assert cluster.api.find("pods", "web-0", "shop") is None


def test_assigned_identity_status_is_written_on_the_main_resource(cluster):
    """As the predecessor's CRD (no status subresource): a merge patch of the object sets status.status, which
    is how podid-controller writes it."""
    cluster.api.create({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureAssignedIdentity",
                        "metadata": {"name": "p-ns-id", "namespace": "default"},
                        "spec": {"pod": "p", "podNamespace": "ns", "nodename": "n"},
                        "status": {"status": "Created"}})
    assert cluster.aai_state(cluster.api.get(AAI, "p-ns-id")) == "Created"
    cluster.api.patch(AAI, "p-ns-id", {"status": {"status": "Assigned", "availableReplicas": 1}})
    assert cluster.aai_state(cluster.api.get(AAI, "p-ns-id")) == "Assigned"


def test_controller_token_is_limited_to_its_rules(cluster):
    ctx = cluster.api.ssl_context()

    def call(path):
        req = urllib.request.Request(cluster.api.url + path,
                                     headers={"Authorization": f"Bearer {cluster.kube_token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert call("/api/v1/pods") == 200
    assert call(f"/api/v1/namespaces/{CONTROLLER_NS}/configmaps") == 200
    assert call(f"/apis/coordination.k8s.io/v1/namespaces/{CONTROLLER_NS}/leases/podid-controller") == 404
    assert call("/api/v1/namespaces/default/configmaps") == 403
    assert call("/api/v1/secrets") == 403
    assert cluster.forbidden() == ["list /api/v1/namespaces/default/configmaps", "list /api/v1/secrets"]
    assert cluster.rbac_source in ("deploy/manifests/20-controller-rbac.yaml", "controller_cluster.CONTROLLER_RULES")


def test_parse_samples_and_wait_for():
    text = ('# HELP x y\n# TYPE x counter\nx{op="GET vmss",code="200"} 3\nx{op="PATCH vmss",code="429"} 1\n'
            'x 7\ny{a="b"} 1\n')
    assert parse_samples(text, "x") == [({"op": "GET vmss", "code": "200"}, 3.0),
                                        ({"op": "PATCH vmss", "code": "429"}, 1.0), ({}, 7.0)]
    assert wait_for(lambda: 5, 1, "five") == 5
    with pytest.raises(AssertionError, match="waiting for nothing"):
        wait_for(lambda: None, 0.2, "nothing")


def test_msi_auth_serves_the_cluster_identity_from_imds(tmp_path):
    with ControllerCluster(tmp_path, auth="msi") as c:
        cfg = json.loads(c.cloud_config.read_text())
        assert cfg["useManagedIdentityExtension"] is True
        assert cfg["userAssignedIdentityID"] == c.cluster_identity.client_id
        q = urllib.parse.urlencode({"api-version": "2018-02-01", "resource": "https://management.azure.com/",
                                    "client_id": c.cluster_identity.client_id})
        req = urllib.request.Request(f"{c.imds_server.url}/metadata/identity/oauth2/token?{q}",
                                     headers={"Metadata": "true"})
        with urllib.request.urlopen(req, timeout=10) as r:
            token = json.loads(r.read())["access_token"]
        pool = c.add_scale_set(NODE_RG, "aks-pool1")
        assert _arm(c, "GET", pool.resource_id, token)[0] == 200
