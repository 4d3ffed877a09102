# SPDX-License-Identifier: Apache-2.0
"""podid beside Azure's Guest Proxy Agent (Metadata Security Protocol), which attaches its own connect4 program
at the cgroup root and sends metadata-service connections to a local proxy (127.0.0.1:3080) that signs them
(reference/landscape-2026.md §4.3). Descendants' programs run first: podid's, on kubepods, redirects pods to the
agent before the root program sees them, and the agent's own upstream calls (exempt from podid) go through the
root program to the proxy, as they must under MSP.

The stand-in (tests/bpf/gpa/gpa_standin.bpf.c) is attached at the simulated node's cgroup root, the parent of its
kubepods, with bpftool; the proxy records each request and forwards it to the IMDS emulator in the fabric.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from podid_harness.agent_runner import BUILD
from podid_harness.token_cluster import VAULT

from helpers import assert_token_for, bound_pod

GPA_OBJECT = BUILD / "tests" / "bpf" / "gpa_standin" / "gpa_standin.bpf.o"

# The proxy: forwards to 169.254.169.254:80 (its own connections are skipped by the program) and prints one
# JSON line per request.
PROXY = r'''
import http.client, http.server, json, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        up = http.client.HTTPConnection("169.254.169.254", 80, timeout=10)
        up.request("GET", self.path, headers={k: v for k, v in self.headers.items()})
        r = up.getresponse(); body = r.read()
        print(json.dumps({"path": self.path, "status": r.status}), flush=True)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
socketserver.TCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
print(json.dumps({"port": srv.server_address[1]}), flush=True)
srv.serve_forever()
'''


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


def key_bytes(value: int, size: int) -> list[str]:
    return [str(b) for b in value.to_bytes(size, "little")]


@pytest.fixture
def guest_proxy_agent(cluster):
    if not GPA_OBJECT.exists():
        pytest.fail(f"{GPA_OBJECT} is not built (cmake --build build --target gpa_standin_object)", pytrace=False)
    node = cluster.node
    proxy_cgroup = node.make_cgroup("gpa-proxy")
    proxy = node.popen(["/usr/bin/python3", "-c", PROXY], cgroup=proxy_cgroup, stdout=subprocess.PIPE, text=True)
    port = json.loads(proxy.stdout.readline())["port"]
    pins = Path("/sys/fs/bpf") / f"podid-e2e-gpa-{uuid.uuid4().hex[:8]}"
    try:
        bpftool("prog", "loadall", str(GPA_OBJECT), str(pins), "pinmaps", str(pins / "maps"))
        bpftool("map", "update", "pinned", str(pins / "maps" / "proxy"), "key", *key_bytes(0, 4),
                "value", *key_bytes(port, 4))
        bpftool("map", "update", "pinned", str(pins / "maps" / "skip_cgroups"),
                "key", *key_bytes(os.stat(proxy_cgroup).st_ino, 8), "value", *key_bytes(1, 4))
        bpftool("cgroup", "attach", str(node.cgroup_root), "connect4", "pinned", str(pins / "gpa_connect4"), "multi")
        yield {"proxy": proxy, "pins": pins}
    finally:
        subprocess.run(["bpftool", "cgroup", "detach", str(node.cgroup_root), "connect4", "pinned",
                        str(pins / "gpa_connect4")], capture_output=True)
        subprocess.run(["rm", "-rf", str(pins)], check=False)
        proxy.kill()
        proxy.wait()


def test_pods_are_served_by_podid_and_its_upstream_calls_go_through_the_root_program(cluster, uniq,
                                                                                       guest_proxy_agent):
    pod, (ident,) = bound_pod(cluster, uniq)
    before = len(cluster.imds_token_requests())
    resource = f"https://gpa-{uniq('r')}.example/"  # uncached: the agent must go upstream for it
    assert_token_for(cluster.token(pod, resource=resource), ident, resource=resource)
    served = cluster.wait_audit(lambda line: line.get("resource") == resource and line.get("decision") == "served")
    assert served and served[-1]["pod"] == pod.name, served
    # The agent's upstream call for it reached IMDS through the proxy: the root program redirected it.
    guest_proxy_agent["proxy"].kill()
    out, _ = guest_proxy_agent["proxy"].communicate(timeout=10)
    proxied = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    upstream = cluster.imds_token_requests()[before:]
    assert upstream and len(proxied) == len(upstream), (proxied, upstream)
    assert all(ident.client_id in p["path"] and "resource=" in p["path"] for p in proxied), proxied
    redirected = json.loads(bpftool("-j", "map", "lookup", "pinned", str(guest_proxy_agent["pins"] / "maps" /
                                                                         "redirected"), "key", *key_bytes(0, 4)))
    assert redirected["formatted"]["value"] == len(proxied), redirected
    # The pod asked without a selector; every proxied request names the identity: the agent's, never the pod's.


def test_a_pod_gets_its_token_and_nothing_of_the_node_with_the_root_program_attached(cluster, uniq,
                                                                                      guest_proxy_agent):
    pod, (ident,) = bound_pod(cluster, uniq)
    other, (other_ident,) = bound_pod(cluster, uniq)
    assert_token_for(cluster.token(pod), ident)
    assert cluster.token(pod, client_id=other_ident.client_id).status != 200
    assert_token_for(cluster.token(other), other_ident, resource=VAULT)
