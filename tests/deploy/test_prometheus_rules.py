# SPDX-License-Identifier: Apache-2.0
"""deploy/prometheus/: the rules pass `promtool test rules`, every alert is tested firing, every metric they
name is one the binaries export, and the scrape jobs load in a Prometheus configuration and keep exactly the
metrics Services the manifests create. (tests/e2e/prometheus runs a real Prometheus with them.)"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, MANIFESTS, REPO, load_docs

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "podid-rules.yaml"
RULES_TEST = PROMETHEUS / "podid-rules.test.yaml"
SCRAPE = PROMETHEUS / "scrape-configs.yaml"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool missing (Debian package prometheus; scripts/install-deps)", pytrace=False)
    return path


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def exported_metrics() -> set[str]:
    names = set()
    for d in ("agent", "common", "controller"):
        for f in (REPO / d).rglob("*"):
            if f.suffix in (".cpp", ".h"):
                names |= set(re.findall(r'\.Name\("([a-z_:][a-z0-9_:]*)"\)', f.read_text(errors="replace")))
    return names


def test_promtool_unit_tests_pass():
    r = subprocess.run([promtool(), "test", "rules", RULES_TEST.name], cwd=PROMETHEUS, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_is_tested_firing_and_documented():
    tests = yaml.safe_load(RULES_TEST.read_text())
    fired = {case["alertname"] for t in tests["tests"] for case in t.get("alert_rule_test", []) if case["exp_alerts"]}
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 10
    for r in alerts:
        assert r["alert"] in fired, f"{r['alert']}: no promtool case expects it to fire"
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["annotations"].get("summary") and r["annotations"].get("description"), r["alert"]
    recorded = {r["record"] for r in rules() if "record" in r}
    tested = {m.group(1) for t in tests["tests"] for case in t.get("promql_expr_test", [])
              for m in [re.match(r"([a-z0-9_:]+)", case["expr"])]}
    assert recorded - tested <= {"cluster:podid_token_request_duration_seconds:p99_5m",
                                 "operation_code:podid_controller_arm_requests:rate5m"}


def test_rules_name_only_metrics_the_binaries_export():
    known = exported_metrics()
    assert "podid_token_requests_total" in known
    for r in rules():
        for name in re.findall(r"\b((?:podid|aadpodidentity)_[a-z0-9_]+)", r["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in known or base in known, f"{r.get('alert') or r.get('record')}: {name} is not exported"


def with_file_sd(config: dict, directory: Path) -> dict:
    """The scrape jobs with Kubernetes discovery swapped for file discovery (same relabeling): Debian builds
    Prometheus without kubernetes_sd_configs. tests/e2e/prometheus feeds these files the labels Kubernetes
    discovery would set."""
    out = yaml.safe_load(yaml.safe_dump(config))
    for job in out["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs"), job["job_name"]
        job["file_sd_configs"] = [{"files": [str(directory / f"{job['job_name']}.json")], "refresh_interval": "1s"}]
    return out


def test_scrape_jobs_load_and_keep_the_metrics_services(tmp_path):
    config = {"global": {"scrape_interval": "30s"}, "rule_files": [str(RULES)],
              **yaml.safe_load(SCRAPE.read_text())}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(with_file_sd(config, tmp_path)))
    r = subprocess.run([promtool(), "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr

    services = {(d["metadata"]["name"], p["name"], p["port"]) for d in load_docs(MANIFESTS)
                if d["kind"] == "Service" for p in d["spec"]["ports"]}
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"podid-agent", "podid-controller"}
    for job, service in (("podid-agent", "podid-agent-metrics"), ("podid-controller", "podid-controller-metrics")):
        keep = next(rc for rc in jobs[job]["relabel_configs"] if rc.get("action") == "keep")
        assert keep["source_labels"] == ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"]
        name, port_name = keep["regex"].split(";")
        assert any(s[0] == name and s[1] == port_name for s in services), (job, keep["regex"], services)
        assert name == service
        # A target label `namespace` or `pod` would rename the agent's own labels (exported_pod).
        targets = {rc.get("target_label") for rc in jobs[job]["relabel_configs"]}
        assert not targets & {"namespace", "pod", "identity", "resource", "result", "source"}, (job, targets)


def test_docs_list_every_alert_with_its_severity():
    text = (REPO / "docs" / "metrics.md").read_text()
    section = re.search(r"^## Alerts$(.*?)(?=^## )", text, re.M | re.S)
    assert section, "docs/metrics.md has no ## Alerts section"
    documented = dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", section.group(1), re.M))
    shipped = {r["alert"]: r["labels"]["severity"] for r in rules() if "alert" in r}
    assert documented == shipped
    recorded = {r["record"] for r in rules() if "record" in r}
    assert recorded == set(re.findall(r"`([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)`", section.group(1)))
