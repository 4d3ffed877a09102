# SPDX-License-Identifier: Apache-2.0
"""Cached-token requests from a simulated pod, podid-agent against nginx, side by side in one run (rounds
interleaved, medians reported: these machines are noisy). Then the agent's memory with many pods and
identities, and the time to a new pod's first token.

  A. podid: GET http://169.254.169.254/metadata/identity/oauth2/token?... from inside a pod; the kernel
     redirects the connection to podid-agent (one thread), which attributes it, resolves the pod, selects its
     identity and answers from its token cache.
  B. nginx (one worker) in the node's namespace, serving the same body on the same path, reached from the same
     pod directly: with an access log line per request (unbuffered, one write(2) each: the fair comparison,
     since the agent writes an audit line per request) and with it off; then two workers with the log on.
  Both: keep-alive HTTP/1.1 from bench-http-load inside the pod: closed loop (throughput, p50, p99) and open
     loop at a fixed rate (p99 at 5,000 req/s, latency counted from when each request was due).
  Server CPU per request: each server's own CPU time (every thread; nginx's master and workers) over the
     requests it answered (bench/server_cpu.py). On 2 cores the load generator competes with the server, so
     closed-loop throughput often says more about the client; CPU per request does not depend on who saturates.
  PODID_BENCH_PROFILE=DIR: one more closed-loop run of the agent and of nginx (log on) under perf, with the
     share by object and the top functions by their own samples printed, and the perf.data files kept in DIR.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))

from podid_harness.agent_runner import BUILD, IMDS, free_port  # noqa: E402
from podid_harness.procfs import status_kib  # noqa: E402
from podid_harness.token_cluster import TokenCluster, token_path  # noqa: E402
from server_cpu import CpuMeter, perf_available, process_tree, profile_summary, start_profile  # noqa: E402

LOAD = BUILD / "bench" / "bench-http-load"
AUDIT_LINE = BUILD / "bench" / "bench-audit-line"
ROUNDS = int(os.environ.get("PODID_BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("PODID_BENCH_SECONDS", "3"))
CONNECTIONS = int(os.environ.get("PODID_BENCH_HTTP_CONNECTIONS", "16"))
RATE = float(os.environ.get("PODID_BENCH_RATE", "5000"))
PODS = int(os.environ.get("PODID_BENCH_PODS", "250"))
IDENTITIES = int(os.environ.get("PODID_BENCH_IDENTITIES", "50"))
FIRST_TOKEN_PODS = int(os.environ.get("PODID_BENCH_FIRST_TOKEN_PODS", "5"))
PATH = token_path()
AGENT_ARGS = os.environ.get("PODID_BENCH_AGENT_ARGS", "").split()
PROFILE_DIR = os.environ.get("PODID_BENCH_PROFILE", "")


def load(pod, addr: str, port: int, *extra: str) -> dict:
    argv = [str(LOAD), "--addr", addr, "--port", str(port), "--path", PATH, "--header", "Metadata: true",
            "--connections", str(CONNECTIONS), "--seconds", str(SECONDS), *extra]
    out = pod.run(argv, timeout=SECONDS + 60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["bad_status"] or r["errors"]:
        raise RuntimeError(f"{addr}:{port}: {r['bad_status']} bad answers, {r['errors']} errors: {r}")
    return r


def start_nginx(c: TokenCluster, body: str, tmp: Path, *, access_log: bool, workers: int = 1):
    """nginx serving `body` on the token path from the node's bridge address: one line per request in its access
    log (unbuffered: one write(2) each, as the agent writes its audit line) or none. Returns (process, port)."""
    port = free_port(c.node, c.node.bridge_ip)
    tag = f"{'log' if access_log else 'nolog'}-{workers}w"
    root = tmp / f"nginx-{tag}"
    root.mkdir()
    conf = root / "nginx.conf"
    # The body is a JSON object with a JWT: no quote or '$' that nginx would read.
    assert "'" not in body and "$" not in body
    log_line = f"access_log {root}/access.log;" if access_log else "access_log off;"
    conf.write_text(f"""daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  {log_line}
  client_body_temp_path {root};
  proxy_temp_path {root};
  fastcgi_temp_path {root};
  uwsgi_temp_path {root};
  scgi_temp_path {root};
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
    proc = c.node.popen(["nginx", "-c", str(conf), "-p", str(root)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if c.node.run(["/usr/bin/python3", "-c", f"import socket; socket.create_connection(('{c.node.bridge_ip}', {port}), 1)"]).returncode == 0:
            return proc, port
        time.sleep(0.1)
    raise RuntimeError(f"nginx did not start: {(root / 'nginx-error.log').read_text()}")


def nginx_pids(tmp: Path, tag: str) -> list[int]:
    return process_tree(int((tmp / f"nginx-{tag}" / "nginx.pid").read_text()))


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
    return status_kib(pid, "VmRSS") / 1024


def med(xs):
    return statistics.median(xs)


class Server:
    def __init__(self, name: str, addr: str, port: int, pids: list[int]) -> None:
        self.name, self.addr, self.port, self.pids = name, addr, port, pids
        self.closed: list[dict] = []
        self.opened: list[dict] = []

    def run(self, pod, runs: list, *extra: str) -> None:
        with CpuMeter(self.pids) as cpu:
            r = load(pod, self.addr, self.port, *extra)
        r["cpu_us_per_request"] = cpu.ns / 1000 / max(1, r["ok"])
        runs.append(r)

    def median(self, runs: str, key: str) -> float:
        return med([r[key] for r in getattr(self, runs)])


def throughput_and_latency(c: TokenCluster, tmp: Path) -> None:
    ident = c.add_identity("bench", "load-id")
    c.bind("bench", "load", ident, "load")
    pod = c.add_pod("load-0", "bench", binding="load")
    first = c.wait_token(pod)
    if first.status != 200:
        raise RuntimeError(f"no token for the load pod: {first}")
    nginxes = []
    try:
        servers = [Server("podid-agent", IMDS, 80, [agent_pid(c)])]
        for access_log, workers in ((True, 1), (False, 1), (True, 2)):
            proc, port = start_nginx(c, first.body, tmp, access_log=access_log, workers=workers)
            nginxes.append(proc)
            tag = f"{'log' if access_log else 'nolog'}-{workers}w"
            name = f"nginx {'log' if access_log else 'no log'}" + (f" {workers}w" if workers > 1 else "")
            servers.append(Server(name, c.node.bridge_ip, port, nginx_pids(tmp, tag)))
        one_thread = servers[:3]
        agent, log_on, log_off, two_workers = servers
        for _ in range(ROUNDS):  # interleaved, so drift in the machine's load falls on every server alike
            for s in servers:
                s.run(pod, s.closed)
        for _ in range(ROUNDS):
            for s in one_thread:
                s.run(pod, s.opened, "--rate", str(RATE))
        if PROFILE_DIR:
            profile(pod, one_thread[:2], Path(PROFILE_DIR))
    finally:
        for proc in nginxes:
            proc.terminate()
            proc.wait(timeout=10)

    print(f"cached-token requests, {CONNECTIONS} keep-alive connections from one pod, {ROUNDS} rounds x {SECONDS:g} s, "
          "medians; server CPU = the server's own user + system time over the requests it answered")
    head = "".join(f"{s.name:>16}" for s in one_thread)
    print(f"{'':26}{head}{'podid/log':>11}{'podid/nolog':>12}")
    rows = (("requests/s (closed)", "closed", "per_second", False),
            ("p50 us (closed)", "closed", "p50_us", False),
            ("p99 us (closed)", "closed", "p99_us", False),
            ("server CPU us/request", "closed", "cpu_us_per_request", False),
            (f"achieved/s @ {RATE:g}/s", "opened", "per_second", False),
            (f"p50 us @ {RATE:g}/s", "opened", "p50_us", False),
            (f"p99 us @ {RATE:g}/s", "opened", "p99_us", False),
            (f"server CPU us/req @ {RATE:g}/s", "opened", "cpu_us_per_request", False))
    for label, runs, key, _ in rows:
        vals = [s.median(runs, key) for s in one_thread]
        print(f"{label:26}" + "".join(f"{v:16.1f}" for v in vals) + f"{vals[0] / vals[1]:11.2f}{vals[0] / vals[2]:12.2f}")
    cost = {s.name: s.median("closed", "cpu_us_per_request") for s in one_thread}
    print(f"efficiency (nginx CPU per request / podid's): {cost[log_on.name] / cost[agent.name]:.2f} x nginx with its "
          f"access log, {cost[log_off.name] / cost[agent.name]:.2f} x with it off")
    audit = json.loads(subprocess.run([str(AUDIT_LINE), "--out", str(tmp / "audit-bench.log")], check=True,
                                      capture_output=True, text=True).stdout)
    print(f"the audit line ({audit['line_bytes']} bytes, to a file as the agent's log goes): "
          f"{audit['audit_ns_per_line'] / 1000:.2f} us CPU each, of which {audit['write_only_ns_per_line'] / 1000:.2f} us "
          f"is its write(2) (any log line's, nginx's included) (bench-audit-line)")
    print(f"two nginx workers (log on): {two_workers.median('closed', 'per_second'):.0f} requests/s closed, "
          f"{two_workers.median('closed', 'cpu_us_per_request'):.1f} us CPU/request; podid-agent serves from one "
          f"thread: {agent.median('closed', 'per_second') / two_workers.median('closed', 'per_second'):.2f} x")
    print("goals: >= 1.0 x nginx with an access log and >= 0.85 x without (CPU per request, one thread); "
          f"p99 < 500 us at 5,000 req/s")


def profile(pod, servers: list[Server], out_dir: Path) -> None:
    """One more closed-loop run per server under perf (PODID_BENCH_PROFILE=DIR keeps perf.data files there)."""
    if not perf_available():
        print("profile: perf is not installed (apt-get install linux-perf)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in servers:
        data = out_dir / (s.name.replace(" ", "-") + ".perf.data")
        perf = start_profile(s.pids, data, SECONDS)
        time.sleep(0.2)
        load(pod, s.addr, s.port)
        perf.wait(timeout=SECONDS + 60)
        print(f"profile of {s.name} (closed loop, {data}):")
        print(profile_summary(data))


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
