# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the kernel-path tests: a simulated node with the agent running on it.

Every test gets a fresh node (its own netns, cgroup tree and pin directory), so tests never share kernel
state. The node holds a local stand-in at 169.254.169.254:80 (an HTTP server answering {"stand_in": true}),
so a test can prove where a connection went; the real service is unreachable from the node's namespace.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from podid_harness.privileged import require_root
from podid_harness.sim import Node

BUILD = Path(os.environ.get("PODID_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
AGENT = BUILD / "agent" / "podid-agent"
PROBE = BUILD / "tests" / "tools" / "podid-connprobe"
BPFFS = Path("/sys/fs/bpf")
IMDS = "169.254.169.254"
STAND_IN_BODY = {"stand_in": True}

_STAND_IN = r'''
import http.server, json, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"stand_in": True}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
socketserver.TCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), H)
print("ready", flush=True)
srv.serve_forever()
'''


def free_port(node: Node, addr: str) -> int:
    """A port free on addr inside the node's namespace, chosen by the kernel at run time."""
    out = node.run(["/usr/bin/python3", "-c",
                    f"import socket; s=socket.socket(); s.bind(('{addr}', 0)); print(s.getsockname()[1])"],
                   check=True)
    return int(out.stdout.strip())


class Agent:
    """podid-agent on a node, in its own cgroup, with pins under a name of its own."""

    def __init__(self, node: Node, tmp: Path, pin_name: str, port: int, cgroup: Path, extra=()):
        self.node, self.tmp, self.pin_name, self.port, self.cgroup = node, tmp, pin_name, port, cgroup
        self.extra = list(extra)
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.serving: dict = {}
        self.starts = 0

    @property
    def pins(self) -> Path:
        return BPFFS / self.pin_name

    def args(self) -> list[str]:
        return [str(AGENT), "run", "--cgroup-path", str(self.node.kubepods_dir), "--pin-name", self.pin_name,
                "--listen", f"{self.node.agent_addr}:{self.port}", "--ops-listen", "127.0.0.1:0",
                "--log-level", "debug", *self.extra]

    def start(self, timeout: float = 15) -> dict:
        self.starts += 1
        self.log_path = self.tmp / f"agent-{self.starts}.log"
        log = open(self.log_path, "w")
        self.proc = self.node.popen(self.args(), cgroup=self.cgroup, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("msg") == "serving":
                    self.serving = line
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"podid-agent exited {self.proc.returncode}:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"podid-agent did not start:\n{self.log_path.read_text()}")

    def lines(self) -> list[dict]:
        out = []
        for raw in (self.log_path.read_text().splitlines() if self.log_path and self.log_path.exists() else []):
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                pass
        return out

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def ops_get(self, path: str) -> tuple[int, str]:
        url = f"http://{self.serving['ops']}{path}"
        out = self.node.run(["/usr/bin/python3", "-c",
                             "import sys,urllib.request,urllib.error\n"
                             "try:\n r=urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode(), end='')\n"
                             "except urllib.error.HTTPError as e:\n print(e.code); print(e.read().decode(), end='')\n",
                             url], check=True)
        status, _, body = out.stdout.partition("\n")
        return int(status), body

    def metric(self, name: str, **labels) -> float:
        _, text = self.ops_get("/metrics")
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            if series == name and not labels:
                return float(value)
            if series.startswith(name + "{"):
                got = ",".join(sorted(series[len(name) + 1:-1].split(",")))
                if got == want:
                    return float(value)
        return 0.0

    def uninstall(self) -> subprocess.CompletedProcess:
        return self.node.run([str(AGENT), "uninstall", "--pin-name", self.pin_name], check=False)


def probe(pod, mode: str, *args: str, addr: str = IMDS, port: int = 80, cap_net_raw: bool = True,
          timeout: float = 20) -> dict:
    """Run podid-connprobe in a pod and return its JSON result."""
    out = pod.run([str(PROBE), mode, "--addr", addr, "--port", str(port), *args], cap_net_raw=cap_net_raw,
                  timeout=timeout)
    assert out.returncode == 0, f"connprobe {mode} failed: {out.stdout}\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def node(tmp_path):
    require_root("the kernel-path tests")
    for binary in (AGENT, PROBE):
        if not binary.exists():
            pytest.fail(f"{binary} is not built; run scripts/test (or cmake --build build)")
    with Node.create(name="node-a", cgroup_driver="systemd", network="kubenet") as n:
        n.add_address(f"{IMDS}/32")
        stand_in = n.popen(["/usr/bin/python3", "-c", _STAND_IN, IMDS, "80"], stdout=subprocess.PIPE, text=True)
        assert stand_in.stdout.readline().strip() == "ready"
        try:
            yield n
        finally:
            stand_in.kill()
            stand_in.wait()


@pytest.fixture
def agent(node, tmp_path):
    pin_name = f"podid-test-{uuid.uuid4().hex[:8]}"
    # The agent runs inside kubepods, as a DaemonSet pod does, so its own exemption is exercised.
    cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
    a = Agent(node, tmp_path, pin_name, free_port(node, node.agent_addr), cgroup)
    a.start()
    try:
        yield a
    finally:
        a.kill()
        a.uninstall()
        if a.pins.exists():
            subprocess.run(["rm", "-rf", str(a.pins)], check=False)
        if a.log_path and a.log_path.exists():
            sys.stderr.write(f"--- agent log ({a.log_path}) ---\n{a.log_path.read_text()[-4000:]}\n")
