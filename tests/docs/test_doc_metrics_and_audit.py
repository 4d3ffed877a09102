# SPDX-License-Identifier: Apache-2.0
"""docs/metrics.md lists exactly the metrics the code registers (agent and controller, both ways); the docs'
PromQL examples parse (promtool) and name real metrics; the docs' JSON examples are audit lines the agent
writes, field for field."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from code_names import code_metric_names
from doc_blocks import ROOT, all_blocks
from doc_tables import section

METRICS_DOC = ROOT / "docs" / "metrics.md"


def documented_metrics(heading: str) -> set[str]:
    """Metric names in the first column of the tables under a `## ` heading of docs/metrics.md."""
    return set(re.findall(r"^\| `([a-z_][a-z0-9_]*)` \|", section(METRICS_DOC, heading), re.M))


def test_every_agent_metric_is_documented_and_every_documented_one_exists():
    code = code_metric_names("agent", "common")
    assert code, "no metric registrations found in agent/ or common/"
    doc = documented_metrics("podid-agent")
    assert code - doc == set(), f"registered but not in docs/metrics.md: {sorted(code - doc)}"
    assert doc - code == set(), f"in docs/metrics.md but registered nowhere: {sorted(doc - code)}"


def test_every_controller_metric_is_documented_and_every_documented_one_exists():
    code = code_metric_names("controller")
    assert code, "no metric registrations found in controller/"
    doc = documented_metrics("podid-controller")
    assert code - doc == set(), f"controller metrics missing from docs/metrics.md: {sorted(code - doc)}"
    assert doc - code == set(), f"in docs/metrics.md but registered nowhere: {sorted(doc - code)}"


def test_promql_queries_parse_and_name_real_metrics(tmp_path):
    queries = [b for b in all_blocks() if b.lang == "promql"]
    assert queries, "no PromQL examples"
    known = code_metric_names("agent", "common", "controller")
    rules = {"groups": [{"name": "docs", "rules": [{"record": f"docs:query_{i}", "expr": b.text.strip()}
                                                   for i, b in enumerate(queries)]}]}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing (Debian prometheus; scripts/install-deps)", pytrace=False)
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for b in queries:
        for name in re.findall(r"\b((?:podid|aadpodidentity)_[a-z0-9_]+)", b.text):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in known or base in known, f"{b.where}: {name} is not a metric podid exports"


def audit_fields_in_code() -> dict[str, set[str]]:
    audit = (ROOT / "agent" / "serve" / "audit.cpp").read_text()
    deny = (ROOT / "agent" / "bpf" / "imds_redirect_deny_events.cpp").read_text()
    head = {"ts", "level", "msg"}
    token = head | {"audit"} | set(re.findall(r'member\(m, "([a-z_]+)"', audit))
    initializer = re.search(r"nlohmann::json fields = \{(.*?)\n  \};", deny, re.S).group(1)
    denied = head | set(re.findall(r'\{"([a-z_]+)", ', initializer)) | \
        set(re.findall(r'fields\["([a-z_]+)"\]', deny))
    return {"token decision": token, "denied": denied}


def optional_audit_fields() -> set[str]:
    """Token-decision fields written only in some cases (`if (...) member(m, "subject", ...)`)."""
    audit = (ROOT / "agent" / "serve" / "audit.cpp").read_text()
    return set(re.findall(r'if \([^;]*\) member\(m, "([a-z_]+)"', audit))


def test_json_examples_are_lines_the_agent_writes():
    fields = audit_fields_in_code()
    assert {"namespace", "pod", "cgroup_id", "decision", "latency_us"} <= fields["token decision"], fields
    examples = [b for b in all_blocks() if b.lang == "json"]
    assert examples
    for b in examples:
        line = json.loads(b.text)
        assert line.get("audit") is True, b.where
        if line["msg"] in fields:
            optional = {"pid", "netns_cookie", "source", "source_mac", "interface", "pod_addresses"}
            required = fields[line["msg"]] - (optional if line["msg"] == "denied" else optional_audit_fields())
            assert set(line) - fields[line["msg"]] == set(), f"{b.where}: fields the agent never writes"
            assert required - set(line) == set(), f"{b.where}: fields missing: {sorted(required - set(line))}"
        else:
            assert line["msg"] in ("connection refused",), f"{b.where}: unknown audit line {line['msg']!r}"
            assert '"connection refused"' in (ROOT / "agent" / "serve" / "admission.cpp").read_text()
