# SPDX-License-Identifier: Apache-2.0
"""The soak's figures (bench/soak_bench.py): answer kinds against the documented ones, whether the agent's
resources stayed flat after warm-up, which metric families gained series, and how busy the machine was."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable

FLAT_WITHIN = 0.05


@dataclass
class Sample:
    """The agent every report interval."""
    t: float            # seconds since the load started
    rss_mib: float
    fds: int
    open: float         # HTTP sessions open (one coroutine each)
    busy: float         # of which serving a request
    fetches: float      # upstream token calls in flight (one coroutine each)
    series: int         # lines of the metrics exposition
    pod_series: int     # of which podid_token_requests_total: per pod, so they come and go with the churn


# Judged flat or not. All metric lines are printed but not judged: histograms gain a few series for each first
# (status, resource) they see, at whatever time a fault first hits, which is bounded but no steady line.
WATCHED = ("rss_mib", "fds", "open", "pod_series")


def drift(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope (per second) and the change it makes over the span, as a share of the mean."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / var if var else 0.0
    span = points[-1][0] - points[0][0]
    return slope, (slope * span / mean_v if mean_v else 0.0)


def flatness(samples: list[Sample], warmup_s: float) -> bool:
    """Prints, for each watched figure, its range after warm-up and its fitted drift; True when every drift is
    within FLAT_WITHIN."""
    after = [s for s in samples if s.t >= warmup_s]
    if len(after) < 3:
        print(f"flatness: too few samples after the {warmup_s:.0f} s warm-up ({len(after)}); run longer")
        return False
    print(f"after warm-up ({warmup_s:.0f} s, {len(after)} samples to {after[-1].t:.0f} s):")
    print(f"  {'figure':<10}{'first':>10}{'last':>10}{'min':>10}{'max':>10}{'drift/min':>12}{'drift':>9}  verdict")
    flat = True
    for name in WATCHED:
        values = [(s.t, float(getattr(s, name))) for s in after]
        slope, share = drift(values)
        ok = abs(share) <= FLAT_WITHIN
        flat = flat and ok
        vs = [v for _, v in values]
        print(f"  {name:<10}{vs[0]:10.1f}{vs[-1]:10.1f}{min(vs):10.1f}{max(vs):10.1f}{slope * 60:12.2f}"
              f"{share:9.1%}  {'flat' if ok else 'GROWS' if share > 0 else 'SHRINKS'}")
    busy = [s.busy for s in after]
    fetches = [s.fetches for s in after]
    print(f"  busy sessions {min(busy):.0f}..{max(busy):.0f}, fetches in flight {min(fetches):.0f}..{max(fetches):.0f}"
          " (both fall back between bursts when nothing is stuck)")
    return flat


def print_kinds(total, documented: Callable[[str], bool]) -> int:
    """Every answer and no-answer kind with its count; returns how many answers the docs do not list."""
    print("answers by kind:")
    undocumented = 0
    for kind, n in sorted(total.answers.items(), key=lambda kv: -kv[1]):
        listed = documented(kind)
        undocumented += 0 if listed else n
        label = "200 (good)" if kind == "200" else kind
        extra = f", of which {total.wrong_identity} wrong identity" if kind == "200" and total.wrong_identity else ""
        print(f"  {n:9d}  {label[:110]}{extra}  [{'documented' if listed else 'NOT DOCUMENTED'}]")
    for kind, n in sorted(total.transport.items()):
        print(f"  {n:9d}  no answer: {kind}  [not allowed while the agent runs]")
    return undocumented


def series_by_family(exposition: str) -> Counter:
    """Series (sample lines) per metric name in a Prometheus text exposition; histograms count under their
    _bucket/_sum/_count names."""
    out: Counter = Counter()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            out[line.split("{", 1)[0].split(" ", 1)[0]] += 1
    return out


def print_series_change(families: list[tuple[float, Counter]], warmup_s: float) -> None:
    """The metric names whose number of series changed between the first report after warm-up and the last:
    a name that keeps gaining series while pods come and go is a leak; one that gained a few once (a first
    error of a kind) is not."""
    after = [f for t, f in families if t >= warmup_s]
    if len(after) < 2:
        return
    first, last = after[0], after[-1]
    changed = {name: last[name] - first[name] for name in first.keys() | last.keys() if last[name] != first[name]}
    if not changed:
        print("  metric series per name: unchanged after warm-up")
        return
    print("  metric series per name that changed after warm-up: " +
          ", ".join(f"{name} {first[name]}->{last[name]}" for name in sorted(changed)))


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores: everything in /proc/stat's cpu line but idle
    and iowait): the soak prints it beside the agent's own share, as the load shares the machine."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


__all__ = ["Sample", "flatness", "print_kinds", "drift", "FLAT_WITHIN", "series_by_family", "print_series_change",
           "machine_busy_seconds"]
