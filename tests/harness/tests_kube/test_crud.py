# SPDX-License-Identifier: Apache-2.0
"""Create, read, update, delete: metadata the server owns, errors as Status objects, optimistic concurrency,
finalizers, the status subresource and paging."""
import pytest

from conftest import WIDGET_CRD, pod

PODS = "/api/v1/namespaces/default/pods"


def test_create_sets_server_metadata(client):
    p = client.ok("POST", PODS, pod("a"))
    md = p["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z") and md["generation"] == 1
    assert int(md["resourceVersion"]) > 1
    assert p["status"]["phase"] == "Pending"
    g = client.ok("POST", PODS, {"metadata": {"generateName": "web-"}, "spec": {"containers": []}})
    assert g["metadata"]["name"].startswith("web-") and len(g["metadata"]["name"]) > 4


def test_errors_are_status_objects(client):
    client.ok("POST", PODS, pod("a"))
    status, body, _ = client.call("POST", PODS, pod("a"))
    assert status == 409 and body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": 'pods "a" already exists', "reason": "AlreadyExists",
                                      "code": 409, "details": {"name": "a", "group": None, "kind": "pods"}}
    status, body, _ = client.call("GET", PODS + "/nope")
    assert (status, body["reason"], body["message"]) == (404, "NotFound", 'pods "nope" not found')
    status, body, _ = client.call("POST", "/api/v1/namespaces/missing/pods", pod("a", ns="missing"))
    assert (status, body["message"]) == (404, 'namespaces "missing" not found')
    status, body, _ = client.call("POST", PODS, pod("Bad_Name"))
    assert status == 422 and body["reason"] == "Invalid" and "metadata.name" in body["message"]
    status, body, _ = client.call("POST", PODS, b"{not json")
    assert status == 400 and body["reason"] == "BadRequest"


def test_update_optimistic_concurrency_and_generation(client):
    p = client.ok("POST", PODS, pod("a"))
    stale = dict(p)
    p["metadata"]["labels"] = {"x": "1"}
    p2 = client.ok("PUT", PODS + "/a", p)
    assert int(p2["metadata"]["resourceVersion"]) > int(p["metadata"]["resourceVersion"])
    assert p2["metadata"]["generation"] == 1  # metadata-only change
    status, body, _ = client.call("PUT", PODS + "/a", stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    p2["spec"]["containers"][0]["image"] = "other"
    p3 = client.ok("PUT", PODS + "/a", p2)
    assert p3["metadata"]["generation"] == 2
    same = client.ok("PUT", PODS + "/a", p3)
    assert same["metadata"]["resourceVersion"] == p3["metadata"]["resourceVersion"]  # no-op: no write


def test_finalizers_hold_deletion(client):
    p = pod("a")
    p["metadata"]["finalizers"] = ["podid.io/test"]
    client.ok("POST", PODS, p)
    d = client.ok("DELETE", PODS + "/a")
    assert d["metadata"]["deletionTimestamp"]
    assert client.ok("GET", PODS + "/a")["metadata"]["deletionTimestamp"]
    client.ok("PATCH", PODS + "/a", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert client.call("GET", PODS + "/a")[0] == 404


def test_delete_precondition_and_collection(client):
    client.ok("POST", PODS, pod("a", labels={"app": "x"}))
    client.ok("POST", PODS, pod("b", labels={"app": "y"}))
    status, body, _ = client.call("DELETE", PODS + "/a", {"preconditions": {"uid": "wrong"}})
    assert status == 409
    client.ok("DELETE", PODS + "?labelSelector=app%3Dx")
    assert [i["metadata"]["name"] for i in client.ok("GET", PODS)["items"]] == ["b"]


def test_status_subresource(client):
    p = client.ok("POST", PODS, pod("a"))
    p["status"] = {"phase": "Running"}
    p["metadata"]["labels"] = {"l": "v"}
    after = client.ok("PUT", PODS + "/a", p)
    assert after["status"]["phase"] == "Pending" and after["metadata"]["labels"] == {"l": "v"}
    after["status"] = {"phase": "Running", "podIP": "10.1.0.4"}
    after["metadata"]["labels"] = {"l": "changed-through-status"}
    st = client.ok("PUT", PODS + "/a/status", after)
    assert st["status"]["podIP"] == "10.1.0.4" and st["metadata"]["labels"] == {"l": "v"}
    client.ok("PATCH", PODS + "/a/status", {"status": {"phase": "Succeeded"}}, "application/merge-patch+json")
    assert client.ok("GET", PODS + "/a")["status"]["phase"] == "Succeeded"


def test_custom_resource_status_subresource(client):
    client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    base = "/apis/example.podid.io/v1/namespaces/default/widgets"
    w = client.ok("POST", base, {"metadata": {"name": "w"}, "spec": {"size": 1}, "status": {"ready": True}})
    assert "status" not in w  # status is dropped on create when the subresource exists
    w = client.ok("PATCH", base + "/w/status", {"status": {"ready": True}}, "application/merge-patch+json")
    assert w["status"] == {"ready": True} and w["metadata"]["generation"] == 1
    w = client.ok("PATCH", base + "/w", {"spec": {"size": 2}, "status": {"ready": False}},
                  "application/merge-patch+json")
    assert w["status"] == {"ready": True} and w["metadata"]["generation"] == 2


def test_list_paging(client):
    for n in "abcde":
        client.ok("POST", PODS, pod(n))
    first = client.ok("GET", PODS + "?limit=2")
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = client.ok("GET", PODS + "?limit=2&continue=" + first["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in second["items"]] == ["c", "d"]
    last = client.ok("GET", PODS + "?limit=2&continue=" + second["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in last["items"]] == ["e"] and "continue" not in last["metadata"]


def test_list_pages_show_the_first_pages_revision(client):
    """As etcd serves them: changes after the first page are not in later pages, whatever their position."""
    for n in "abcd":
        client.ok("POST", PODS, pod(n))
    first = client.ok("GET", PODS + "?limit=2")
    rv = first["metadata"]["resourceVersion"]
    client.ok("POST", PODS, pod("bb"))                       # sorts into the next page: not shown
    client.ok("DELETE", PODS + "/c")                         # was there at the first page: still shown
    client.ok("PATCH", PODS + "/d", {"metadata": {"labels": {"x": "1"}}}, "application/merge-patch+json")
    rest = client.ok("GET", PODS + "?limit=10&continue=" + first["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c", "d"]
    assert rest["items"][1]["metadata"].get("labels") == {} and rest["metadata"]["resourceVersion"] == rv
    now = client.ok("GET", PODS)
    assert [i["metadata"]["name"] for i in now["items"]] == ["a", "b", "bb", "d"]


def test_continue_token_older_than_the_history_is_410(ca):
    from podid_harness.kube import KubeApiServer
    from conftest import Client
    with KubeApiServer.start(ca=ca, history_window=3) as api:
        c = Client(api)
        for n in "abc":
            c.ok("POST", PODS, pod(n))
        first = c.ok("GET", PODS + "?limit=1")
        for n in "wxyz":                                    # four more changes: the first page's revision goes
            c.ok("POST", PODS, pod(n))
        status, body, _ = c.call("GET", PODS + "?limit=1&continue=" + first["metadata"]["continue"])
        assert status == 410 and body["reason"] == "Expired", body
        assert "start a new list without the continue parameter" in body["message"]


@pytest.mark.parametrize("ctype,patch,check", [
    ("application/merge-patch+json", {"metadata": {"labels": {"a": None, "b": "2"}}},
     lambda p: p["metadata"]["labels"] == {"b": "2"}),
    ("application/strategic-merge-patch+json",
     {"spec": {"containers": [{"name": "side", "image": "s"}]}},
     lambda p: [c["name"] for c in p["spec"]["containers"]] == ["app", "side"]),
    ("application/strategic-merge-patch+json",
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}},
     lambda p: p["metadata"]["finalizers"] == ["f2"]),
    ("application/strategic-merge-patch+json",
     {"spec": {"containers": [{"name": "app", "$patch": "delete"}]}},
     lambda p: p["spec"]["containers"] == []),
    ("application/json-patch+json",
     [{"op": "add", "path": "/metadata/labels/c", "value": "3"},
      {"op": "replace", "path": "/spec/containers/0/image", "value": "new"},
      {"op": "remove", "path": "/metadata/labels/a"}],
     lambda p: p["metadata"]["labels"] == {"c": "3"} and p["spec"]["containers"][0]["image"] == "new"),
])
def test_patch_types(client, ctype, patch, check):
    p = pod("a", labels={"a": "1"})
    p["metadata"]["finalizers"] = ["f1", "f2"]
    client.ok("POST", PODS, p)
    assert check(client.ok("PATCH", PODS + "/a", patch, ctype))


def test_patch_failures(client):
    client.ok("POST", PODS, pod("a"))
    status, body, _ = client.call("PATCH", PODS + "/a", [{"op": "test", "path": "/spec/nodeName", "value": "x"}],
                                  "application/json-patch+json")
    assert status == 422
    status, body, _ = client.call("PATCH", PODS + "/a", {"metadata": {"resourceVersion": "1"}},
                                  "application/merge-patch+json")
    assert status == 409 and body["reason"] == "Conflict"
    status, _, _ = client.call("PATCH", PODS + "/a", b"{}", "application/apply-patch+yaml")
    assert status == 415
    client.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    base = "/apis/example.podid.io/v1/namespaces/default/widgets"
    client.ok("POST", base, {"metadata": {"name": "w"}, "spec": {}})
    status, _, _ = client.call("PATCH", base + "/w", {"spec": {"size": 1}}, "application/strategic-merge-patch+json")
    assert status == 415
    assert client.call("PATCH", PODS + "/ghost", {}, "application/merge-patch+json")[0] == 404


def test_python_side_helpers(api):
    p = api.create_pod({"metadata": {"name": "p", "namespace": "team-a"}, "spec": {"nodeName": "n1"},
                        "status": {"phase": "Running", "podIP": "10.0.0.9"}})
    assert p["status"]["podIP"] == "10.0.0.9"                   # kept as a kubelet would have written it
    assert api.get("namespaces", "team-a", None)["status"]["phase"] == "Active"
    assert api.get("sa", "default", "team-a")["kind"] == "ServiceAccount"
    n = api.create_node({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}})
    assert n["kind"] == "Node" and "namespace" not in n["metadata"]
    assert [x["metadata"]["name"] for x in api.list("pods", field_selector="spec.nodeName=n1")] == ["p"]
    assert api.patch("pod", "p", {"metadata": {"labels": {"k": "v"}}}, "team-a")["metadata"]["labels"] == {"k": "v"}
    api.delete("po", "p", "team-a")
    assert api.find("pods", "p", "team-a") is None
