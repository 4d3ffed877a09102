# SPDX-License-Identifier: Apache-2.0
"""Reading a Prometheus text exposition (what /metrics serves) in tests and benchmarks."""
from __future__ import annotations


def parse_samples(text: str, name: str) -> list[tuple[dict, float]]:
    """Samples of one metric, as ({label: value}, value), label values unescaped."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, brace, rest = series.partition("{")
        if metric != name:
            continue
        labels: dict[str, str] = {}
        body = rest[:-1] if brace else ""
        i = 0
        while i < len(body):
            eq = body.index("=", i)
            key = body[i:eq].strip().lstrip(",").strip()
            j, val = eq + 2, []
            while body[j] != '"':
                if body[j] == "\\":
                    j += 1
                    val.append({"n": "\n"}.get(body[j], body[j]))
                else:
                    val.append(body[j])
                j += 1
            labels[key] = "".join(val)
            i = j + 1
        out.append((labels, float(value)))
    return out
