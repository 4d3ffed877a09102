# SPDX-License-Identifier: Apache-2.0
"""Injected faults and the request log."""
import threading
import time

from conftest import Client

PODS = "/api/v1/namespaces/default/pods"


def test_fail_next_with_path_regex(api, client):
    api.faults.fail_next(2, 500, path_regex=r"/pods")
    assert client.call("GET", "/api/v1/nodes")[0] == 200          # not matching: untouched
    status, body, _ = client.call("GET", PODS)
    assert (status, body["reason"]) == (500, "InternalError")
    assert client.call("GET", PODS)[0] == 500
    assert client.call("GET", PODS)[0] == 200


def test_429_has_retry_after(api, client):
    api.faults.fail_next(1, 429, retry_after=7)
    status, body, headers = client.call("GET", PODS)
    assert (status, body["reason"], headers["Retry-After"]) == (429, "TooManyRequests", "7")
    assert body["details"]["retryAfterSeconds"] == 7


def test_pause_holds_requests(api, client):
    api.faults.pause(0.8)
    start = time.monotonic()
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.call("GET", PODS)[0])) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == [200, 200, 200] and time.monotonic() - start >= 0.7


def test_request_log(api):
    token = api.add_token("controller", [("*", "*", "*")])
    Client(api, token).call("GET", PODS + "?watch=0")
    entry = api.request_log[-1]
    assert (entry["user"], entry["verb"], entry["resource"], entry["namespace"], entry["code"]) == \
        ("controller", "list", "pods", "default", 200)


def test_down_refuses_and_cuts_then_up_keeps_the_objects(api, client):
    import http.client
    import socket

    import pytest
    client.ok("POST", PODS, {"metadata": {"name": "kept"}})
    host, port = api.url.split("://")[1].rsplit(":", 1)
    keep_alive = http.client.HTTPSConnection(host, int(port), context=client.ctx, timeout=5)
    keep_alive.request("GET", "/version", headers=client._headers(None))
    keep_alive.getresponse().read()
    with client.watch(PODS + "?watch=1&resourceVersion=0") as w:
        assert w.next_non_bookmark()["type"] == "ADDED"
        api.down()
        with pytest.raises((EOFError, http.client.HTTPException, OSError)):   # cut, no closing chunk
            while True:
                w.next()
    with pytest.raises(OSError):             # the open keep-alive connection was cut too
        keep_alive.request("GET", "/version", headers=client._headers(None))
        keep_alive.getresponse().read()
    with socket.socket() as s:
        assert s.connect_ex((host, int(port))) != 0     # nothing listens
    api.up()
    assert api.url.endswith(f":{port}")
    assert client.ok("GET", PODS + "/kept")["metadata"]["name"] == "kept"
