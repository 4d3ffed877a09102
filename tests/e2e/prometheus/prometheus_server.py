# SPDX-License-Identifier: Apache-2.0
"""Debian's Prometheus for the tests: deploy/prometheus/ as shipped (scrape jobs and rules), with Kubernetes
discovery swapped for file discovery carrying the labels Kubernetes discovery would set (Debian builds
Prometheus without kubernetes_sd_configs), so the shipped relabeling decides which targets are kept and what
they are called. Scrapes and evaluates every second. Listens on 127.0.0.1, on a port chosen at run time;
killed by pid on close."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Optional

import yaml

from podid_harness.controller_cluster import wait_for

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "deploy" / "prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubernetes_sd_labels(namespace: str, service: str, port_name: str, pod: str, node: str) -> dict:
    """What `kubernetes_sd_configs: role: endpoints` sets for one endpoint of a Service backed by a pod."""
    return {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_service_name": service,
            "__meta_kubernetes_endpoint_port_name": port_name, "__meta_kubernetes_endpoint_ready": "true",
            "__meta_kubernetes_pod_name": pod, "__meta_kubernetes_pod_node_name": node,
            "__meta_kubernetes_endpoint_node_name": node}


class Prometheus:
    def __init__(self, tmp: Path, targets: dict[str, list[dict]]):
        """`targets`: job name -> file_sd target groups ({"targets": [...], "labels": {...}})."""
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus missing (Debian package prometheus; scripts/install-deps)")
        config = yaml.safe_load((SHIPPED / "scrape-configs.yaml").read_text())
        for job in config["scrape_configs"]:
            assert job.pop("kubernetes_sd_configs"), job["job_name"]
            sd = tmp / f"{job['job_name']}.json"
            sd.write_text(json.dumps(targets.get(job["job_name"], [])))
            job["file_sd_configs"] = [{"files": [str(sd)], "refresh_interval": "1s"}]
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(SHIPPED / "podid-rules.yaml")]
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "prometheus.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.wait(lambda: self._get("/-/ready") is not None, 30, "Prometheus ready")
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> "Prometheus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, path: str) -> Optional[Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                body = r.read().decode()
        except OSError:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            return None
        return json.loads(body) if body.startswith("{") else body

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/<path>: the `data` of a success, else an AssertionError with Prometheus's error."""
        got = self._get(f"/api/v1/{path}?{urllib.parse.urlencode(params)}" if params else f"/api/v1/{path}")
        assert got is not None and got.get("status") == "success", f"{path} {params}: {got}"
        return got["data"]

    def query(self, expr: str, at: Optional[float] = None) -> list[tuple[dict, float]]:
        """An instant query: ({label: value}, value) per series of the vector."""
        data = self.api("query", query=expr, **({"time": f"{at:.3f}"} if at is not None else {}))
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def wait(self, pred, timeout: float, what: str, interval: float = 0.25):
        return wait_for(pred, timeout, what, interval,
                        diagnose=lambda: f"prometheus log:\n{self.log.read_text()[-2000:]}")

    def wait_value(self, expr: str, want: float, timeout: float = 20) -> float:
        """Until the instant query has one series of exactly `want` (a scrape after the events): its time."""
        def seen():
            got = self.query(f"timestamp({expr})")
            vals = self.query(expr)
            return got[0][1] if len(vals) == 1 and vals[0][1] == want and got else None
        return self.wait(seen, timeout, f"{expr} == {want} (now {self.query(expr)})")
