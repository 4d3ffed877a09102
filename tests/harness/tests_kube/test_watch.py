# SPDX-License-Identifier: Apache-2.0
"""List and watch: resourceVersion ordering, selectors (and objects moving in and out of them), bookmarks,
410 Expired past the history window, timeouts, and dropped watches."""
import http.client
import time

import pytest

from conftest import Client, pod
from podid_harness.kube import KubeApiServer

PODS = "/api/v1/namespaces/default/pods"


def test_list_then_watch_sees_changes_in_order(client):
    client.ok("POST", PODS, pod("a"))
    listed = client.ok("GET", PODS)
    rv = listed["metadata"]["resourceVersion"]
    with client.watch(f"{PODS}?watch=1&resourceVersion={rv}") as w:
        client.ok("POST", PODS, pod("b"))
        client.ok("PATCH", PODS + "/a", {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
        client.ok("DELETE", PODS + "/b")
        events = [w.next() for _ in range(3)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert events[0]["object"]["kind"] == "Pod"


def test_watch_without_resource_version_starts_with_current_objects(client):
    client.ok("POST", PODS, pod("a"))
    with client.watch(f"{PODS}?watch=true") as w:
        ev = w.next()
    assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "a")


def test_node_field_selector_watch_follows_scheduling(client):
    client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    client.ok("POST", PODS, pod("elsewhere", node="n2"))
    rv = client.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")["metadata"]["resourceVersion"]
    with client.watch(f"/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn1&resourceVersion={rv}") as w:
        client.ok("POST", PODS, pod("p"))                              # unscheduled: not ours yet
        client.ok("POST", "/api/v1/namespaces/other/pods", pod("q", node="n1", ns="other"))
        client.ok("PATCH", PODS + "/p", {"spec": {"nodeName": "n1"}}, "application/merge-patch+json")
        client.ok("PATCH", PODS + "/p", {"spec": {"nodeName": "n3"}}, "application/merge-patch+json")
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in (w.next() for _ in range(3))]
    assert got == [("ADDED", "q"), ("ADDED", "p"), ("DELETED", "p")]


@pytest.mark.parametrize("selector,names", [
    ("app=web", ["a"]), ("app==web", ["a"]), ("app!=web", ["b", "c"]), ("app in (web,db)", ["a", "b"]),
    ("app notin (web)", ["b", "c"]), ("tier", ["a", "b"]), ("!tier", ["c"]), ("app=web,tier=fe", ["a"]),
])
def test_label_selectors(client, selector, names):
    client.ok("POST", PODS, pod("a", labels={"app": "web", "tier": "fe"}))
    client.ok("POST", PODS, pod("b", labels={"app": "db", "tier": "be"}))
    client.ok("POST", PODS, pod("c"))
    import urllib.parse
    out = client.ok("GET", PODS + "?labelSelector=" + urllib.parse.quote(selector))
    assert [i["metadata"]["name"] for i in out["items"]] == names


def test_selector_errors(client):
    status, body, _ = client.call("GET", PODS + "?fieldSelector=spec.bogus%3Dx")
    assert (status, body["message"]) == (400, "field label not supported: spec.bogus")
    status, body, _ = client.call("GET", PODS + "?labelSelector=a%20in%20")
    assert status == 400 and body["reason"] == "BadRequest"


def test_other_field_selectors(client):
    client.ok("POST", PODS, pod("a"))
    client.ok("PATCH", PODS + "/a/status", {"status": {"phase": "Running"}}, "application/merge-patch+json")
    client.ok("POST", PODS, pod("b"))
    names = lambda q: [i["metadata"]["name"] for i in client.ok("GET", PODS + "?fieldSelector=" + q)["items"]]  # noqa
    assert names("status.phase%3DRunning") == ["a"]
    assert names("status.phase!%3DRunning,metadata.name%3Db") == ["b"]
    ev = {"metadata": {"name": "e1"}, "involvedObject": {"kind": "AzureIdentityBinding", "name": "bind",
                                                         "namespace": "default"}, "reason": "binding applied"}
    client.ok("POST", "/api/v1/namespaces/default/events", ev)
    out = client.ok("GET", "/api/v1/events?fieldSelector=involvedObject.kind%3DAzureIdentityBinding,"
                           "involvedObject.name%3Dbind")
    assert [i["reason"] for i in out["items"]] == ["binding applied"]


def test_bookmarks(client):
    client.ok("POST", PODS, pod("a"))
    rv = client.ok("GET", PODS)["metadata"]["resourceVersion"]
    with client.watch(f"{PODS}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}") as w:
        first = w.next()
        assert first["type"] == "BOOKMARK" and first["object"]["metadata"]["resourceVersion"] == rv
        assert first["object"]["kind"] == "Pod"
        client.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "bump"}})   # other types move the clock
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            ev = w.next()
            if ev["type"] == "BOOKMARK" and int(ev["object"]["metadata"]["resourceVersion"]) > int(rv):
                break
        else:
            pytest.fail("no periodic bookmark with a newer resourceVersion")


def test_too_old_resource_version_is_410(ca):
    with KubeApiServer.start(ca=ca, history_window=5) as api:
        c = Client(api)
        old = c.ok("GET", PODS)["metadata"]["resourceVersion"]
        for i in range(8):
            c.ok("POST", PODS, pod(f"p{i}"))
        with c.watch(f"{PODS}?watch=1&resourceVersion={old}") as w:
            ev = w.next()
            assert ev["type"] == "ERROR"
            assert (ev["object"]["code"], ev["object"]["reason"]) == (410, "Expired")
            assert ev["object"]["message"].startswith(f"too old resource version: {old} (")
        status, body, _ = c.call("GET", f"{PODS}?resourceVersion={old}&resourceVersionMatch=NotOlderThan")
        assert (status, body["reason"]) == (410, "Expired")
    with KubeApiServer.start(ca=ca, history_window=2, expired_watch_as_event=False) as api:
        c = Client(api)
        for i in range(4):
            c.ok("POST", PODS, pod(f"p{i}"))
        with c.watch(f"{PODS}?watch=1&resourceVersion=2") as w:
            assert w.status == 410


def test_timeout_ends_watch_cleanly(client):
    start = time.monotonic()
    with client.watch(f"{PODS}?watch=1&resourceVersion=1&timeoutSeconds=1") as w:
        assert list(w) == []
    assert 0.9 <= time.monotonic() - start < 3


def _open_watches_become(api, n: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while len(api.open_watches()) != n and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(api.open_watches()) == n


def test_drop_watches_cuts_connections(api, client):
    with client.watch(f"{PODS}?watch=1&resourceVersion=1") as w:
        assert _open_watches_become(api, 1)
        api.faults.drop_watches()
        with pytest.raises((http.client.IncompleteRead, ConnectionError, EOFError, OSError)):
            w.next()
    assert _open_watches_become(api, 0)


def test_client_hangup_unregisters_watch(api, client):
    w = client.watch(f"{PODS}?watch=1&resourceVersion=1")
    assert _open_watches_become(api, 1)
    w.close()
    assert _open_watches_become(api, 0)
