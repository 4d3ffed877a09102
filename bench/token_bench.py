# SPDX-License-Identifier: Apache-2.0
"""Cached-token requests from a simulated pod, podid-agent against nginx, side by side in one run (rounds
interleaved, medians reported: these machines are noisy). Then the agent's memory with many pods and
identities, and the time to a new pod's first token.

  A. podid: GET http://169.254.169.254/metadata/identity/oauth2/token?... from inside a pod; the kernel
     redirects the connection to podid-agent (one thread), which attributes it, resolves the pod, selects its
     identity and answers from its token cache.
  B. nginx (one worker, access log off) in the node's namespace, serving the same body on the same path,
     reached from the same pod directly.
  Both: keep-alive HTTP/1.1 from bench-http-load inside the pod: closed loop (throughput, p50, p99) and open
     loop at a fixed rate (p99 at 5,000 req/s, latency counted from when each request was due).

  Memory: podid-agent's RSS (VmRSS) with PODID_BENCH_PODS pods bound to PODID_BENCH_IDENTITIES identities,
     each pod having fetched a token.
  First token: managed mode, identity already on the VMSS; from the moment a new pod's cgroups and Pod object
     exist to its first 200, for a pod of an identity with a cached token and for one whose identity was never
     fetched. Printed as two bounds: timed by the client in the pod, and from creation including the client's
     spawn.

Prints figures and ratios; no pass or fail. Run as root through scripts/bench.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import BUILD, IMDS, free_port  # noqa: E402
from podid_harness.token_cluster import TokenCluster, token_path  # noqa: E402

LOAD = BUILD / "bench" / "bench-http-load"
ROUNDS = int(os.environ.get("PODID_BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("PODID_BENCH_SECONDS", "3"))
CONNECTIONS = int(os.environ.get("PODID_BENCH_HTTP_CONNECTIONS", "16"))
RATE = float(os.environ.get("PODID_BENCH_RATE", "5000"))
PODS = int(os.environ.get("PODID_BENCH_PODS", "250"))
IDENTITIES = int(os.environ.get("PODID_BENCH_IDENTITIES", "50"))
FIRST_TOKEN_PODS = int(os.environ.get("PODID_BENCH_FIRST_TOKEN_PODS", "5"))
PATH = token_path()
AGENT_ARGS = os.environ.get("PODID_BENCH_AGENT_ARGS", "").split()


def load(pod, addr: str, port: int, *extra: str) -> dict:
    argv = [str(LOAD), "--addr", addr, "--port", str(port), "--path", PATH, "--header", "Metadata: true",
            "--connections", str(CONNECTIONS), "--seconds", str(SECONDS), *extra]
    out = pod.run(argv, timeout=SECONDS + 60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["bad_status"] or r["errors"]:
        raise RuntimeError(f"{addr}:{port}: {r['bad_status']} bad answers, {r['errors']} errors: {r}")
    return r


def start_nginx(c: TokenCluster, body: str, tmp: Path):
    port = free_port(c.node, c.node.bridge_ip)
    conf = tmp / "nginx.conf"
    # The body is a JSON object with a JWT: no quote or '$' that nginx would read.
    assert "'" not in body and "$" not in body
    conf.write_text(f"""daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  keepalive_requests 1000000;
  server {{
    listen {c.node.bridge_ip}:{port};
    location = /metadata/identity/oauth2/token {{
      default_type "application/json; charset=utf-8";
      return 200 '{body}';
    }}
  }}
}}
""")
    proc = c.node.popen(["nginx", "-c", str(conf), "-p", str(tmp)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if c.node.run(["/usr/bin/python3", "-c", f"import socket; socket.create_connection(('{c.node.bridge_ip}', {port}), 1)"]).returncode == 0:
            return proc, port
        time.sleep(0.1)
    raise RuntimeError(f"nginx did not start: {(tmp / 'nginx-error.log').read_text()}")


def agent_pid(c: TokenCluster) -> int:
    """The podid-agent process (the Popen may be a wrapper that execs it; same process group either way)."""
    group = c.agent.proc.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == group and os.readlink(entry / "exe").endswith("podid-agent"):
                return int(entry.name)
        except (OSError, ProcessLookupError):
            continue
    raise RuntimeError("podid-agent process not found")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def med(xs):
    return statistics.median(xs)


def throughput_and_latency(c: TokenCluster, tmp: Path) -> None:
    ident = c.add_identity("bench", "load-id")
    c.bind("bench", "load", ident, "load")
    pod = c.add_pod("load-0", "bench", binding="load")
    first = c.wait_token(pod)
    if first.status != 200:
        raise RuntimeError(f"no token for the load pod: {first}")
    nginx, nginx_port = start_nginx(c, first.body, tmp)
    try:
        closed = {"podid": [], "nginx": []}
        for _ in range(ROUNDS):
            closed["podid"].append(load(pod, IMDS, 80))
            closed["nginx"].append(load(pod, c.node.bridge_ip, nginx_port))
        opened = {"podid": [], "nginx": []}
        for _ in range(ROUNDS):
            opened["podid"].append(load(pod, IMDS, 80, "--rate", str(RATE)))
            opened["nginx"].append(load(pod, c.node.bridge_ip, nginx_port, "--rate", str(RATE)))
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)

    def row(name, runs, key):
        return med([r[key] for r in runs[name]])

    print(f"cached-token requests, {CONNECTIONS} keep-alive connections from one pod, {ROUNDS} rounds x {SECONDS:g} s, medians")
    print(f"{'':24}{'podid-agent':>14}{'nginx':>14}{'podid/nginx':>14}")
    for label, key in (("requests/s (closed)", "per_second"), ("p50 us (closed)", "p50_us"), ("p99 us (closed)", "p99_us")):
        a, b = row("podid", closed, key), row("nginx", closed, key)
        print(f"{label:24}{a:14.0f}{b:14.0f}{a / b:14.2f}")
    for label, key in ((f"achieved/s @ {RATE:g}/s", "per_second"), (f"p50 us @ {RATE:g}/s", "p50_us"),
                       (f"p99 us @ {RATE:g}/s", "p99_us")):
        a, b = row("podid", opened, key), row("nginx", opened, key)
        print(f"{label:24}{a:14.0f}{b:14.0f}{a / b:14.2f}")
    print("goals: throughput >= 0.75 x nginx with one agent thread; p99 < 1000 us at 5,000 req/s")


def memory(c: TokenCluster) -> None:
    pid = agent_pid(c)
    before = rss_mib(pid)
    idents = []
    for i in range(IDENTITIES):
        ident = c.add_identity("mem", f"id-{i}")
        c.bind("mem", f"bind-{i}", ident, f"sel-{i}")
        idents.append(ident)
    pods = []
    for i in range(PODS):
        pods.append(c.add_pod(f"mem-{i}", "mem", binding=f"sel-{i % IDENTITIES}", settle=False))
    c.settle()
    served = 0
    for pod in pods:
        served += c.wait_token(pod, timeout=20).status == 200
    after = rss_mib(pid)
    print(f"podid-agent RSS: {before:.1f} MiB before, {after:.1f} MiB with {PODS} pods and {IDENTITIES} identities "
          f"({served} pods served a token); goal < 30 MiB")


def first_token(c: TokenCluster) -> None:
    shared = c.add_identity("first", "shared-id")
    c.bind("first", "shared", shared, "shared")
    warm = c.add_pod("warm", "first", binding="shared")
    c.wait_token(warm)
    # Two bounds: the client's own timing (from its start, after the pod exists: a lower bound, since the
    # agent could already work while the client was being spawned) and, from the moment add_pod returned to the
    # client's exit, the same plus spawning a process in the pod (an upper bound).
    results = {"cached identity": [], "new identity": []}
    upper = {"cached identity": [], "new identity": []}
    for i in range(FIRST_TOKEN_PODS):
        fresh = c.add_identity("first", f"fresh-{i}")
        c.bind("first", f"fresh-{i}", fresh, f"fresh-{i}")
        c.settle()
        for kind, selector in (("cached identity", "shared"), ("new identity", f"fresh-{i}")):
            pod = c.add_pod(f"p{i}-{selector}", "first", binding=selector, settle=False)
            created = time.monotonic()
            out = pod.run([str(LOAD), "--addr", IMDS, "--port", "80", "--path", PATH, "--header", "Metadata: true",
                           "--until-status", "--seconds", "5"], timeout=30)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if not r["ok"]:
                raise RuntimeError(f"no first token for {pod.name}: {r}")
            upper[kind].append((time.monotonic() - created) * 1000)
            results[kind].append(r["elapsed_us"] / 1000)
    for kind, ms in results.items():
        print(f"first token, {kind}: median {med(ms):.1f} ms (client-timed) .. {med(upper[kind]):.1f} ms "
              f"(from pod creation, client spawn included), max {max(upper[kind]):.1f} ms over {len(ms)} pods; "
              "goal < 50 ms")


def main() -> int:
    if os.geteuid() != 0:
        print("token_bench: needs root (network namespaces, cgroups, BPF)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="podid-token-bench-") as tmp:
        with TokenCluster(Path(tmp) / "cluster", mode="managed", agent_args=AGENT_ARGS) as c:
            throughput_and_latency(c, Path(tmp))
            first_token(c)
        # A fresh node for the memory figure: 250 pods fill most of its /24 pod range.
        with TokenCluster(Path(tmp) / "cluster-memory", mode="managed", agent_args=AGENT_ARGS) as c:
            memory(c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
