# SPDX-License-Identifier: Apache-2.0
"""Discovery documents, and CRDs making their types appear in (and disappear from) discovery and the API."""
from conftest import WIDGET_CRD


def test_version_and_core_discovery(client):
    assert client.ok("GET", "/version")["major"] == "1"
    assert client.ok("GET", "/api")["versions"] == ["v1"]
    core = {r["name"]: r for r in client.ok("GET", "/api/v1")["resources"]}
    assert core["pods"]["namespaced"] and core["pods"]["kind"] == "Pod" and "watch" in core["pods"]["verbs"]
    assert "po" in core["pods"]["shortNames"]
    assert core["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert core["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert not core["nodes"]["namespaced"]
    groups = {g["name"] for g in client.ok("GET", "/apis")["groups"]}
    assert {"coordination.k8s.io", "apiextensions.k8s.io"} <= groups
    leases = client.ok("GET", "/apis/coordination.k8s.io/v1")
    assert leases["groupVersion"] == "coordination.k8s.io/v1" and leases["resources"][0]["name"] == "leases"


def test_openapi_v2_protobuf_and_json(client):
    status, body, headers = client.call("GET", "/openapi/v2",
                                        headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0"
                                                           "+protobuf"})
    assert status == 200 and body[:5] == b"\x0a\x032.0"
    assert "protobuf" in headers["Content-Type"]
    assert client.ok("GET", "/openapi/v2")["swagger"] == "2.0"
    assert client.call("GET", "/openapi/v3")[0] == 404


def test_crd_adds_group_and_serves_resources(client):
    crd = client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    assert {c["type"] for c in crd["status"]["conditions"]} == {"Established", "NamesAccepted"}
    assert "example.podid.io" in {g["name"] for g in client.ok("GET", "/apis")["groups"]}
    res = {r["name"]: r for r in client.ok("GET", "/apis/example.podid.io/v1")["resources"]}
    assert res["widgets"]["kind"] == "Widget" and res["widgets"]["shortNames"] == ["wd"]
    assert "widgets/status" in res
    base = "/apis/example.podid.io/v1/namespaces/default/widgets"
    w = client.ok("POST", base, {"apiVersion": "example.podid.io/v1", "kind": "Widget",
                                 "metadata": {"name": "w1"}, "spec": {"size": 3}})
    assert w["metadata"]["uid"] and w["kind"] == "Widget"
    assert [i["metadata"]["name"] for i in client.ok("GET", base)["items"]] == ["w1"]

    client.ok("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.podid.io")
    assert client.call("GET", base)[0] == 404
    assert client.call("GET", "/apis/example.podid.io/v1")[0] == 404


def test_invalid_crd_is_refused(client):
    bad = {**WIDGET_CRD, "metadata": {"name": "wrong.example.podid.io"}}
    status, body, _ = client.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert status == 422 and body["reason"] == "Invalid"


def test_table_output_uses_printer_columns(client):
    client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    base = "/apis/example.podid.io/v1/namespaces/default/widgets"
    client.ok("POST", base, {"metadata": {"name": "w1"}, "spec": {"size": 7}})
    status, table, _ = client.call("GET", base, headers={"Accept": "application/json;as=Table;v=v1;"
                                                                   "g=meta.k8s.io,application/json"})
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size"]
    assert table["rows"][0]["cells"] == ["w1", 7]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
