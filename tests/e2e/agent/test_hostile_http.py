# SPDX-License-Identifier: Apache-2.0
"""Hostile HTTP from a pod, through the kernel's redirect to the real agent: what an attacker's corpus found
(one request aborted the agent; chunk extensions were held whole in memory; non-chunked transfer codings were
served and the body read as a next request) and what RFC 9112 asks of a server. After each, the agent is
alive, bounded, and still serves a bound pod its token."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import assert_token_for, bound_pod

from podid_harness.token_cluster import IMDS, PYTHON, token_path

# Sends raw bytes to 169.254.169.254:80 from inside the pod and prints what came back: the status line (or
# "closed"/"reset"/"timeout"), how many bytes were accepted before the agent closed, and how many answers.
SENDER = textwrap.dedent("""
    import json, socket, sys
    spec = json.loads(sys.argv[1])
    s = socket.create_connection((spec["host"], 80), timeout=10)
    sent = 0
    try:
        s.sendall(spec["head"].encode("latin-1"))
        pad = spec.get("pad", "").encode("latin-1")
        for _ in range(spec.get("repeat", 0)):
            s.sendall(pad)
            sent += len(pad)
        s.sendall(spec.get("tail", "").encode("latin-1"))
    except OSError:
        pass
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        data += b"<timeout>"
    text = data.decode("latin-1")
    print(json.dumps({"status": text.split("\\r\\n", 1)[0], "answers": text.count("HTTP/1."), "padded": sent}))
""")


def send(cluster, pod, head: str, *, pad: str = "", repeat: int = 0, tail: str = "") -> dict:
    spec = {"host": IMDS, "head": head, "pad": pad, "repeat": repeat, "tail": tail}
    out = pod.run([PYTHON, "-c", SENDER, json.dumps(spec)], timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def victim(cluster, uniq):
    """A bound pod whose token must keep coming whatever the attacker sends."""
    pod, (ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.wait_token(pod), ident)
    return pod, ident


def still_serving(cluster, victim) -> None:
    assert cluster.agent.proc.poll() is None, "the agent died:\n" + cluster.agent_log()
    pod, ident = victim
    assert_token_for(cluster.token(pod), ident)


TOKEN = token_path()


@pytest.mark.parametrize("trailer_bytes", [65535, 65000])
def test_huge_trailer_is_refused_and_the_agent_lives(cluster, uniq, victim, trailer_bytes):
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    head = (f"GET {TOKEN} HTTP/1.1\r\nHost: {IMDS}\r\nMetadata: true\r\nTransfer-Encoding: chunked\r\n\r\n"
            f"0\r\nX-Pad: ")
    r = send(cluster, attacker, head, pad="a" * trailer_bytes, repeat=1, tail="\r\n\r\n")
    assert r["status"] == "HTTP/1.1 400 Bad Request", r
    still_serving(cluster, victim)
    assert cluster.metric("podid_agent_http_refusals_total", listener="redirect", reason="framing_too_large") >= 1


def test_chunk_extension_is_not_held_in_memory(cluster, uniq, victim):
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    rss_before = cluster.agent.rss_kib()
    head = f"GET {TOKEN} HTTP/1.1\r\nHost: {IMDS}\r\nMetadata: true\r\nTransfer-Encoding: chunked\r\n\r\n1;e="
    r = send(cluster, attacker, head, pad="e" * 65536, repeat=512)   # up to 32 MiB
    assert r["status"].startswith("HTTP/1.1 400"), r
    assert r["padded"] < 32 * 1024 * 1024, "the agent read a 32 MiB chunk extension to its end"
    assert cluster.agent.rss_kib() - rss_before < 8 * 1024, "the agent grew by the extension"
    still_serving(cluster, victim)


@pytest.mark.parametrize("coding", ["gzip", "identity", "xchunked", "chunked, gzip"])
def test_transfer_coding_other_than_chunked_is_refused_and_the_body_never_read_as_a_request(cluster, uniq, victim,
                                                                                           coding):
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    smuggled = f"GET {TOKEN} HTTP/1.1\r\nHost: {IMDS}\r\nMetadata: true\r\n\r\n"
    head = (f"GET /metadata/versions HTTP/1.1\r\nHost: {IMDS}\r\nMetadata: true\r\nTransfer-Encoding: {coding}\r\n"
            f"\r\n{smuggled}")
    r = send(cluster, attacker, head)
    assert r["status"] == "HTTP/1.1 400 Bad Request", r
    assert r["answers"] == 1, r
    still_serving(cluster, victim)


def test_host_rules_and_absolute_form(cluster, uniq, victim):
    pod, ident = victim
    no_host = send(cluster, pod, f"GET {TOKEN} HTTP/1.1\r\nMetadata: true\r\n\r\n")
    assert no_host["status"] == "HTTP/1.1 400 Bad Request", no_host
    two_hosts = send(cluster, pod, f"GET {TOKEN} HTTP/1.1\r\nHost: a\r\nHost: b\r\nMetadata: true\r\n\r\n")
    assert two_hosts["status"] == "HTTP/1.1 400 Bad Request", two_hosts
    absolute = send(cluster, pod, f"GET http://{IMDS}{TOKEN} HTTP/1.1\r\nHost: {IMDS}\r\nMetadata: true\r\n"
                                  "Connection: close\r\n\r\n")
    assert absolute["status"] == "HTTP/1.1 200 OK", absolute
    still_serving(cluster, victim)


# Opens `count` connections straight to the agent's address (no kernel record: they did not go through the
# redirect) and keeps them open without sending a byte, then reports how many the agent closed on its own
# within `wait` seconds and what the first answers said.
HOLDER = textwrap.dedent("""
    import json, select, socket, sys, time
    host, port, count, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    socks, failed = [], 0
    for _ in range(count):
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            failed += 1
    poller, by_fd = select.poll(), {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline, closed, first = time.monotonic() + wait, set(), []
    while time.monotonic() < deadline and len(closed) < len(socks):
        for fd, _ in poller.poll(200):
            try:
                data = by_fd[fd].recv(4096)
            except OSError:
                data = b""
            if len(first) < 3 and data:
                first.append(data.decode("latin-1").split("\\r\\n", 1)[0])
            if not data or b"\\r\\n\\r\\n" in data:
                closed.add(fd)
                poller.unregister(fd)
    print(json.dumps({"opened": len(socks), "connect_failed": failed, "closed_by_agent": len(closed),
                      "first": first}))
""")


def test_connections_without_a_kernel_record_cannot_exhaust_the_agent(cluster, uniq, victim):
    """1,100 idle connections straight to the agent's address used to hold 1,100 descriptors for the 10 s read
    timeout, past the default limit of 1,024, and stop service for every pod. Now each is answered 403 at
    accept (or closed, past 16 in flight from one source) and none is held."""
    attacker = cluster.add_pod(uniq("attacker"), uniq("ns"))
    host, port = cluster.agent.serving["redirect"].rsplit(":", 1)
    out = attacker.run([PYTHON, "-c", HOLDER, host, port, "1100", "8"], timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["opened"] + r["connect_failed"] == 1100
    assert r["closed_by_agent"] == r["opened"], r
    assert all(line == "HTTP/1.1 403 Forbidden" for line in r["first"]), r
    still_serving(cluster, victim)
    fds = len(list(Path(f"/proc/{cluster.agent.proc.pid}/fd").iterdir()))
    assert fds < 200, f"the agent holds {fds} descriptors after the flood"
    log = cluster.agent_log(tail=400000)
    assert log.count('"msg":"connection refused"') < 400, "refusal lines are not throttled"
