# SPDX-License-Identifier: Apache-2.0
"""Run podid-agent and podid-connprobe on a simulated node (podid_harness.sim): used by the kernel-path
tests, the demo and the benchmark.

The built binaries are found through PODID_BUILD_DIR (default: <repo>/build).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from podid_harness.paths import BUILD
from podid_harness.procfs import json_lines, status_kib
from podid_harness.prometheus_text import parse_samples
from podid_harness.sim import Node

AGENT = BUILD / "agent" / "podid-agent"
PROBE = BUILD / "tests" / "tools" / "podid-connprobe"
BPFFS = Path("/sys/fs/bpf")
IMDS = "169.254.169.254"
STAND_IN_BODY = {"stand_in": True}

STAND_IN_SERVER = r'''
import http.server, json, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"stand_in": True}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer.request_queue_size = 1024   # the default 5 drops SYNs of a burst (1 s retransmits)
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

    def __init__(self, node: Node, tmp: Path, pin_name: str, port: int, cgroup: Path, extra=(),
                 env: dict | None = None):
        """`env`: variables added to this process's environment for the agent (e.g. SSL_CERT_FILE). `binary`
        (the built podid-agent unless changed) is what the next start() runs: an upgrade test points it at a
        copy."""
        self.node, self.tmp, self.pin_name, self.port, self.cgroup = node, tmp, pin_name, port, cgroup
        self.binary = AGENT
        self.extra = list(extra)
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.serving: dict = {}
        self.starts = 0

    @property
    def pins(self) -> Path:
        return BPFFS / self.pin_name

    def pinned_map(self, name: str) -> Path:
        """A map pinned by this agent, in its ABI version's directory (<pins>/v<N>/maps/<name>)."""
        versions = sorted(self.pins.glob("v*/maps"))
        if len(versions) != 1:
            raise RuntimeError(f"expected one ABI version under {self.pins}, found {versions}")
        return versions[0] / name

    def args(self) -> list[str]:
        # Without a Kubernetes API to watch, the agent serves the kernel path only.
        kube = [] if "--node-name" in self.extra else ["--kube", "off"]
        return [str(self.binary), "run", "--cgroup-path", str(self.node.kubepods_dir), "--pin-name", self.pin_name,
                "--listen", f"{self.node.agent_addr}:{self.port}", "--ops-listen", "127.0.0.1:0",
                "--decisions-listen", "127.0.0.1:0", "--log-level", "debug", *kube, *self.extra]

    def start(self, timeout: float = 15) -> dict:
        self.starts += 1
        self.log_path = self.tmp / f"agent-{self.starts}.log"
        log = open(self.log_path, "w")
        env = {**os.environ, **self.env} if self.env else None
        with log:  # the child holds its own descriptor
            self.proc = self.node.popen(self.args(), cgroup=self.cgroup, stdout=log, stderr=subprocess.STDOUT,
                                        env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("msg") == "serving":
                    self.serving = line
                    return line
            if self.proc.poll() is not None:
                raise RuntimeError(f"podid-agent exited {self.proc.returncode}:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"podid-agent did not start:\n{self.log_path.read_text()}")

    def lines(self) -> list[dict]:
        """The structured (JSON) log lines of the latest start."""
        return json_lines(self.log_path.read_text()) if self.log_path and self.log_path.exists() else []

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def rss_kib(self) -> int:
        """The agent's resident set now (VmRSS), in KiB."""
        return status_kib(self.proc.pid, "VmRSS")

    def open_fds(self) -> int:
        """Descriptors the agent holds now."""
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User + system CPU time the agent has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def ops_get(self, path: str) -> tuple[int, str]:
        return self.node_get(f"http://{self.serving['ops']}{path}")

    def decisions_get(self, path: str) -> tuple[int, str]:
        """GET on the node-local decisions listener, from the node's network namespace."""
        return self.node_get(f"http://{self.serving['decisions']}{path}")

    def node_get(self, url: str) -> tuple[int, str]:
        """GET `url` from a process in the node's network namespace: (status, body)."""
        out = self.node.run(["/usr/bin/python3", "-c",
                             "import sys,urllib.request,urllib.error\n"
                             "try:\n r=urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode(), end='')\n"
                             "except urllib.error.HTTPError as e:\n print(e.code); print(e.read().decode(), end='')\n",
                             url], check=True)
        status, _, body = out.stdout.partition("\n")
        return int(status), body

    def metric(self, name: str, **labels) -> float:
        """The sample of `name` whose labels are exactly `labels` (0 when there is none)."""
        _, text = self.ops_get("/metrics")
        return next((v for ls, v in parse_samples(text, name) if ls == labels), 0.0)

    def uninstall(self) -> subprocess.CompletedProcess:
        return self.node.run([str(AGENT), "uninstall", "--pin-name", self.pin_name], check=False)


def probe(pod, mode: str, *args: str, addr: str = IMDS, port: int = 80, cap_net_raw: bool = True,
          timeout: float = 20) -> dict:
    """Run podid-connprobe in a pod and return its JSON result."""
    out = pod.run([str(PROBE), mode, "--addr", addr, "--port", str(port), *args], cap_net_raw=cap_net_raw,
                  timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"connprobe {mode} failed: {out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


