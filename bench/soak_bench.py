# SPDX-License-Identifier: Apache-2.0
"""podid-agent for 10 minutes with everything moving (issue 16, "A soak with everything moving"): does anything
grow, does any pod get an answer the docs do not list, or another pod's identity?

  load      --pods pods (50) bound to --identities identities (10) ask for tokens at --rate requests/s in
            all (5,000), each pod for one of three resources (Key Vault, Storage, ARM; every identity is asked
            for all three, so 30 cached tokens are refreshed under load), open loop (bench-pod-load: latency
            counted from when a request was due), 4 keep-alive connections per pod, each reopened after 100
            answers, so the kernel's attribution runs under load too (50 new connections/s at 5,000/s).
  tokens    the IMDS stand-in's tokens live 7 minutes and the agent serves none with less than 5 left (what
            SDKs refresh at: TokenCacheOptions::min_remaining), so every (identity, resource) stops being
            servable 2 minutes after it was fetched and is fetched again under load (about 15 upstream calls a
            minute: at 5% that is a fault every minute or two, each answered to the requests waiting on it).
  churn     every second a new pod (bound to one of the identities, its AzureAssignedIdentity written as MIC
            would) asks for tokens for 2 s, and the pod created 3 s earlier goes (Pod and AzureAssignedIdentity
            deleted, cgroups and network namespace removed). Their addresses come round again every 2 minutes,
            as a node's IPAM hands freed addresses out again.
  API       the Kubernetes API stand-in is cut (connections refused, watches dropped) for 10 s every minute,
            from second 30 of each minute.
  upstream  the IMDS stand-in answers 429 (Retry-After: 1) to 2.5% of token calls and 500 to another 2.5%.

Every 10 s one line: requests/s reached, answers that were not a good 200 (by status), how many of those the docs
do not list, requests left without an answer, wrong identities, p50/p99 latency, the agent's RSS, descriptors,
open and busy HTTP sessions (one coroutine each), upstream fetches in flight (one coroutine each), metric series
(all, and podid_token_requests_total's, which are per pod), the agent's CPU and the whole machine's. At the end:
totals, every answer kind with whether docs/troubleshooting.md lists it (only those are allowed), requests from
pods' addresses that reached the IMDS stand-in (must be 0), and the verdict on RSS, descriptors, sessions and
per-pod series after warm-up (the first fifth of the run, and at least to the first token refresh, 130 s): flat
when their fitted drift over the rest of the run is within 5%; the metric families whose series count changed
after warm-up are named. The exit status is 1 when an answer was wrong, undocumented or missing, or a pod's
request reached the IMDS stand-in; the flatness verdict is a figure, not an exit status.

On 2 cores the 50 load processes, the stand-ins (Python, in this process) and the agent share the machine: the
rate reached is printed beside the rate asked for, with the agent's share of a core.

usage: scripts/bench soak [--minutes 10] [--rate 5000] [--pods 50] [--identities 10] (a smoke run: --minutes 1)
Root. scripts/bench runs it inside scripts/in-isolated-netns, where nothing can reach a real metadata service.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from podid_harness.pod_load import LoadGroup, PodLoad, Tally, documented_answer  # noqa: E402
from podid_harness.prometheus_text import parse_samples  # noqa: E402
from podid_harness.token_cluster import ARM_RESOURCE, TOKEN_PATH, VAULT, TokenCluster, token_path  # noqa: E402
from soak_figures import (Sample, flatness, machine_busy_seconds, print_kinds, print_series_change,  # noqa: E402
                          series_by_family)

NS = "soak"
SERVABLE_S = 120                 # how long a fetched token stays servable
MIN_REMAINING_S = 300            # the agent's TokenCacheOptions::min_remaining
CONNECTIONS_PER_POD = 4
ANSWERS_PER_CONNECTION = 100
CHURN_LIFETIME_S = 3
CHURN_SECONDS = 2.0
CHURN_RATE = 10.0                # requests/s of a churn pod (SDK-like retries of a first token)
CHURN_ADDRESSES = range(128, 254)   # host part of the churn pods' addresses in the node's /24, reused in turn
RESOURCES = (VAULT, "https://storage.azure.com/", ARM_RESOURCE)
LOAD_MARGIN_S = 30               # loads are given this much beyond the run and stopped (SIGTERM) when it ends


class Churn(threading.Thread):
    """A pod created every second and the one created CHURN_LIFETIME_S earlier deleted."""

    def __init__(self, c: TokenCluster, idents, stop: threading.Event) -> None:
        super().__init__(name="churn", daemon=True)
        self.c, self.idents, self.stop_event = c, idents, stop
        self.lock = threading.Lock()
        self.live: list = []              # (pod, identity, load), oldest first
        self.finished = Tally()           # what loads of deleted pods reported after their last take()
        self.created = self.deleted = 0
        self.lag_s = 0.0
        self.addresses: set[str] = set()
        self.failures: list[str] = []
        prefix = c.node.bridge_ip.rsplit(".", 1)[0]
        self._pool = [f"{prefix}.{h}" for h in CHURN_ADDRESSES]

    def take(self) -> Tally:
        with self.lock:
            out, self.finished = self.finished, Tally()
            for _, _, load in self.live:
                out.add(load.take())
        return out

    def run(self) -> None:
        start = time.monotonic()
        tick = 0
        while not self.stop_event.is_set():
            tick += 1
            try:
                self._create_pod(tick)
                if len(self.live) > CHURN_LIFETIME_S:
                    self._delete_pod(self.live[0])
            except Exception as e:  # noqa: BLE001: a failed step is reported, the soak goes on
                self.failures.append(f"tick {tick}: {e!r}")
            self.lag_s = max(0.0, time.monotonic() - (start + tick))
            self.stop_event.wait(max(0.0, start + tick - time.monotonic()))
        with self.lock:
            live = list(self.live)
        for entry in live:
            self._delete_pod(entry)

    # Not _create/_delete: threading.Thread has a private _delete() of its own, called as the thread ends.
    def _create_pod(self, n: int) -> None:
        ident = self.idents[n % len(self.idents)]
        ip = self._pool[n % len(self._pool)]
        pod = self.c.add_pod(f"churn-{n}", NS, binding=f"sel-{n % len(self.idents)}", settle=False, ip=ip)
        self.c.assign(pod, ident)
        load = PodLoad.start(pod, token_path(RESOURCES[n % len(RESOURCES)]), rate=CHURN_RATE, seconds=CHURN_SECONDS,
                             connections=1, expect_client_id=ident.client_id)
        with self.lock:
            self.live.append((pod, ident, load))
        self.addresses.add(ip)
        self.created += 1

    def _delete_pod(self, entry) -> None:
        pod, ident, load = entry
        try:
            load.wait(timeout=10)
        except Exception as e:  # noqa: BLE001
            self.failures.append(f"{pod.name}: {e}")
            load.stop()
        with self.lock:
            self.finished.add(load.take())
            self.live.remove(entry)
        self.c.unassign(pod, ident)
        self.c.remove_pod(pod)
        self.deleted += 1


def api_outages(c: TokenCluster, stop: threading.Event, every_s: float, cut_s: float, log: list) -> None:
    """The API stand-in cut for cut_s every every_s, from second 30 of each period."""
    start = time.monotonic()
    period = 0
    while True:
        down_at = start + period * every_s + min(30.0, every_s - cut_s)
        if stop.wait(max(0.0, down_at - time.monotonic())):
            return
        c.api.down()
        log.append(time.monotonic() - start)
        stop.wait(cut_s)
        c.api.up()
        period += 1


def scrape(text: str) -> dict:
    """The gauges the soak watches, from one /metrics exposition."""
    value = lambda name, **want: sum(v for labels, v in parse_samples(text, name)  # noqa: E731
                                     if all(labels.get(k) == w for k, w in want.items()))
    return {"open": value("podid_agent_http_sessions", state="open"),
            "busy": value("podid_agent_http_sessions", state="busy"),
            "fetches": value("podid_token_fetches_in_flight"),
            "api": value("podid_k8s_api_reachable"),
            "series": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
            "pod_series": len(parse_samples(text, "podid_token_requests_total"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--identities", type=int, default=10)
    ap.add_argument("--report-every", type=float, default=10)
    ap.add_argument("--api-cut-every", type=float, default=60)
    ap.add_argument("--api-cut-seconds", type=float, default=10)
    ap.add_argument("--upstream-fault-share", type=float, default=0.05)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("soak_bench: needs root (network namespaces, cgroups, BPF)", file=sys.stderr)
        return 1
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="podid-soak-") as tmp, \
            TokenCluster(Path(tmp), imds_options={"token_ttl_s": SERVABLE_S + MIN_REMAINING_S}) as c:
        return soak(c, args, seconds)


def soak(c: TokenCluster, args, seconds: float) -> int:
    idents, pods = [], []
    for i in range(args.identities):
        ident = c.add_identity(NS, f"id-{i}")
        c.bind(NS, f"bind-{i}", ident, f"sel-{i}")
        idents.append(ident)
    for j in range(args.pods):
        ident = idents[j % len(idents)]
        pod = c.add_pod(f"load-{j}", NS, binding=f"sel-{j % len(idents)}", settle=False)
        c.assign(pod, ident)
        pods.append((pod, ident, RESOURCES[(j // len(idents)) % len(RESOURCES)]))
    c.settle(extra_s=1.0)
    share = args.upstream_fault_share / 2
    c.imds.faults.add(429, retry_after=1, count=None, path_regex=TOKEN_PATH, probability=share)
    c.imds.faults.add(500, count=None, path_regex=TOKEN_PATH, probability=share / (1 - share))

    print(f"soak: {args.minutes:g} min, {args.rate:g} token requests/s asked from {args.pods} pods over "
          f"{args.identities} identities and {len(RESOURCES)} resources; a pod created and one deleted every "
          f"second; the API cut {args.api_cut_seconds:g} s every {args.api_cut_every:g} s; "
          f"{args.upstream_fault_share:.0%} of token calls upstream answered 429 or 500; tokens servable "
          f"{SERVABLE_S} s; {os.cpu_count()} cores shared by the load, the stand-ins and the agent", flush=True)
    stop = threading.Event()
    per_pod = args.rate / args.pods
    # The loads outlast the run and are stopped when it ends, so no report falls in their wind-down.
    loads = LoadGroup([PodLoad.start(pod, token_path(resource), rate=per_pod, seconds=seconds + LOAD_MARGIN_S,
                                     connections=CONNECTIONS_PER_POD, expect_client_id=ident.client_id,
                                     requests_per_connection=ANSWERS_PER_CONNECTION)
                       for pod, ident, resource in pods])
    start = time.monotonic()
    churn = Churn(c, idents, stop)
    churn.start()
    outages: list[float] = []
    cutter = threading.Thread(target=api_outages, args=(c, stop, args.api_cut_every, args.api_cut_seconds,
                                                        outages), name="api-outages", daemon=True)
    cutter.start()

    print(f"{'t s':>5} {'req/s':>7} {'ok':>7} {'not ok (status:n)':<24} {'undoc':>5} {'no answer':<18} "
          f"{'wrong':>5} {'p50 ms':>7} {'p99 ms':>7} {'RSS MiB':>8} {'fds':>5} {'open':>5} {'busy':>5} "
          f"{'fetch':>5} {'series':>6} {'pod s':>5} {'cpu %':>6} {'host %':>6} {'api':>4} {'churn':>5}", flush=True)
    total, samples, families = Tally(), [], []
    agent_died = False
    last_t, last_cpu, last_host = start, c.agent.cpu_seconds(), machine_busy_seconds()
    try:
        while time.monotonic() - start < seconds - 0.5:
            time.sleep(max(0.0, start + (len(samples) + 1) * args.report_every - time.monotonic()))
            window = loads.take().add(churn.take())
            total.add(window)
            if c.agent.proc.poll() is not None:
                print(f"soak: podid-agent exited {c.agent.proc.returncode} at {time.monotonic() - start:.0f} s; "
                      f"its log ends:\n{c.agent_log(20000)}", flush=True)
                agent_died = True
                break
            now, cpu, host = time.monotonic(), c.agent.cpu_seconds(), machine_busy_seconds()
            text = c.agent_metrics()
            m = scrape(text)
            s = Sample(t=now - start, rss_mib=c.agent.rss_kib() / 1024, fds=c.agent.open_fds(), open=m["open"],
                       busy=m["busy"], fetches=m["fetches"], series=m["series"], pod_series=m["pod_series"])
            samples.append(s)
            families.append((s.t, series_by_family(text)))
            statuses = Counter()
            for kind, n in window.answers.items():
                statuses[kind.split(" ", 1)[0]] += n
            statuses["200"] -= window.ok
            not_ok = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()) if v) or "-"
            undocumented = sum(n for kind, n in window.answers.items() if not documented_answer(kind))
            no_answer = " ".join(f"{k}:{v}" for k, v in sorted(window.transport.items())) or "-"
            p50, p99 = window.percentile_us(0.5), window.percentile_us(0.99)
            elapsed = now - last_t
            print(f"{s.t:5.0f} {window.answered / elapsed:7.0f} {window.ok:7d} {not_ok:<24} {undocumented:5d} "
                  f"{no_answer:<18} {window.wrong_identity:5d} {(p50 or 0) / 1000:7.2f} {(p99 or 0) / 1000:7.2f} "
                  f"{s.rss_mib:8.1f} {s.fds:5d} {s.open:5.0f} {s.busy:5.0f} {s.fetches:5.0f} {s.series:6d} "
                  f"{s.pod_series:5d} "
                  f"{100 * (cpu - last_cpu) / elapsed:6.1f} {100 * (host - last_host) / elapsed / os.cpu_count():6.1f} "
                  f"{m['api']:4.0f} {churn.created:5d}", flush=True)
            last_t, last_cpu, last_host = now, cpu, host
    finally:
        stop.set()
        churn.join(timeout=60)
        cutter.join(timeout=30)   # it brings the API back up if it was cut when stopped
        try:
            loads.finish(timeout=30)
        except RuntimeError as e:
            print(f"soak: {e}", file=sys.stderr)
            loads.stop()
    total.add(loads.take()).add(churn.take())   # what came between the last report and the stop
    failed = report(c, args, time.monotonic() - start, total, samples, families, churn, outages)
    return 1 if agent_died else failed


def report(c: TokenCluster, args, seconds: float, total: Tally, samples, families, churn: Churn,
           outages) -> int:
    pod_ips = churn.addresses | {pod.ip for pod in c.node.pods.values()}
    leaked = c.imds.log.entries(sources=pod_ips)
    upstream = c.imds_token_requests()
    faults = Counter(e.status for e in upstream if e.status != 200)
    print()
    print(f"reached {total.answered / seconds:.0f} answers/s of {args.rate:g} asked over {seconds:.0f} s "
          f"({total.sent} requests sent, {total.answered} answered, {total.ok} good tokens); pods created "
          f"{churn.created}, deleted {churn.deleted} (churn lag at the end {churn.lag_s:.1f} s); API cut at "
          f"{', '.join(f'{t:.0f}' for t in outages) or 'never'} s")
    print(f"latency over the run: p50 {total.percentile_us(0.5) / 1000:.2f} ms, p99 "
          f"{total.percentile_us(0.99) / 1000:.2f} ms, p99.9 {total.percentile_us(0.999) / 1000:.2f} ms")
    print(f"upstream token calls {len(upstream)}, injected failures answered {dict(faults) or 'none'}")
    undocumented = print_kinds(total, documented_answer)
    print(f"wrong identities: {total.wrong_identity} (must be 0); answers not from the agent: {total.not_from_agent}; "
          f"requests from pods' addresses at the IMDS stand-in: {len(leaked)} (must be 0)")
    if churn.failures:
        print(f"churn steps that failed: {len(churn.failures)}, e.g. {churn.failures[:3]}")
    # Warm-up ends after the first token refresh as well: a pod's series are made the first time it sees a
    # (result, source), and the first refresh is when many first see source="upstream" (a step, not a leak).
    warmup_s = max(args.minutes * 60 / 5, SERVABLE_S + args.report_every)
    flat = flatness(samples, warmup_s=warmup_s)
    print_series_change(families, warmup_s)
    bad = total.wrong_identity or leaked or undocumented or total.transport or total.not_from_agent
    print(f"verdict: {'flat' if flat else 'NOT flat'} after warm-up; "
          f"{'every answer documented, no wrong identity' if not bad else 'FAILURES above'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
