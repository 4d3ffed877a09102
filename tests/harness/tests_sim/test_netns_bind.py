# SPDX-License-Identifier: Apache-2.0
"""EmulatorServer(netns=...) and KubeApiServer.start(netns=...): the listening socket lives in the named network
namespace (a simulated node's), only there, and the calling thread comes back to its own namespace whatever
happens."""
from __future__ import annotations

import os
import socket
import threading

import pytest

from podid_harness.httpbase import EmulatorServer, NetnsError, Response, thread_in_netns
from podid_harness.kube import KubeApiServer

# Inside the node: GET the URL, print the status and body (HTTPS verified against the CA file if given).
GET = ("import ssl,sys,urllib.request\n"
       "ctx=ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv)>2 else None\n"
       "r=urllib.request.urlopen(sys.argv[1], timeout=5, context=ctx); print(r.status, r.read().decode())\n")


class Counting:
    """An emulator that answers "here" and counts what it answered."""

    def __init__(self) -> None:
        self.seen = 0

    def handle(self, req):
        self.seen += 1
        return Response.text(200, "here")


def _own_netns() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def _answered_from_here(port: int, emu: Counting) -> bool:
    """Does a request from the test's own namespace reach `emu` on 127.0.0.1:port?"""
    before = emu.seen
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            # Something else of this namespace may own the port; only our emulator's counter tells.
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.settimeout(1)
            try:
                s.recv(100)
            except OSError:
                pass
    except OSError:
        return False
    return emu.seen > before


def test_server_in_a_netns_is_reachable_inside_and_not_from_here(node):
    own = _own_netns()
    emu = Counting()
    with EmulatorServer(emu, "127.0.0.1", 0, netns=node.netns) as srv:
        assert _own_netns() == own
        out = node.run(["/usr/bin/python3", "-c", GET, srv.url], check=True)
        assert out.stdout.strip() == "200 here"
        assert emu.seen == 1
        assert not _answered_from_here(srv.port, emu)
        assert emu.seen == 1


def test_a_node_address_can_be_bound_only_through_the_netns(node):
    with EmulatorServer(Counting(), node.bridge_ip, 0, netns=node.netns) as srv:
        pod = node.add_pod("pod-a")
        out = pod.run(["/usr/bin/python3", "-c", GET, srv.url], check=True)
        assert out.stdout.strip() == "200 here"
    with pytest.raises(OSError):  # the bridge address does not exist in the test's own namespace
        EmulatorServer(Counting(), node.bridge_ip, 0).start().stop()


def test_kube_api_server_in_a_netns(node):
    own = _own_netns()
    with KubeApiServer.start(netns=node.netns) as api:
        assert _own_netns() == own
        out = node.run(["/usr/bin/python3", "-c", GET, api.url + "/healthz", api.ca_path], check=True)
        assert out.stdout.strip() == "200 ok"
        with socket.socket() as s:  # nothing listens on that port here (a TLS server would accept at once)
            s.settimeout(1)
            assert s.connect_ex(("127.0.0.1", api.port)) != 0


def test_thread_comes_back_after_a_failed_bind(node):
    own = _own_netns()
    # 10.244.1.1 exists only in the node; 10.244.99.99 nowhere: bind fails inside the namespace.
    with pytest.raises(OSError):
        EmulatorServer(Counting(), "10.244.99.99", 0, netns=node.netns).start()
    assert _own_netns() == own
    with pytest.raises(RuntimeError):
        with thread_in_netns(node.netns):
            assert _own_netns() != own
            raise RuntimeError("boom")
    assert _own_netns() == own


def test_unknown_or_bad_netns_names_change_nothing():
    own = _own_netns()
    with pytest.raises(FileNotFoundError):
        EmulatorServer(Counting(), "127.0.0.1", 0, netns="pdt-no-such-namespace").start()
    for bad in ("", "../net", "a/b", ".."):
        with pytest.raises(ValueError):
            EmulatorServer(Counting(), "127.0.0.1", 0, netns=bad).start()
    assert _own_netns() == own
    assert issubclass(NetnsError, OSError)


def test_only_the_calling_thread_moves(node):
    own = _own_netns()
    entered, checked = threading.Event(), threading.Event()
    seen_elsewhere = []

    def other_thread():
        entered.wait(5)
        seen_elsewhere.append(_own_netns())
        checked.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with thread_in_netns(node.netns):
        inside = _own_netns()
        entered.set()
        checked.wait(5)
    t.join()
    assert inside != own
    assert seen_elsewhere == [own]
    assert _own_netns() == own
