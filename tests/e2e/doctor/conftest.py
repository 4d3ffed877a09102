# SPDX-License-Identifier: Apache-2.0
"""Fixtures of `podid doctor` / `podid explain` end-to-end tests: a ControllerCluster (the Kubernetes API
stand-in, ARM and Entra ID emulators over HTTPS, the controller's azure.json) per test, and a runner for the
podid binary with the controller's credentials. Nothing here leaves loopback: the suite runs under
scripts/in-isolated-netns (checked from the routing table, without sending anything)."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from podid_harness.controller_cluster import BUILD, CONTROLLER_NS, ControllerCluster

PODID = BUILD / "cli" / "podid"
_FORBIDDEN = ("169.254.169.254", "168.63.129.16")


@pytest.fixture(scope="session", autouse=True)
def isolated_session():
    routable = [a for a in _FORBIDDEN
                if subprocess.run(["ip", "route", "get", a], capture_output=True).returncode == 0]
    if routable:
        pytest.fail(f"{', '.join(routable)} routable: run this suite through ctest or scripts/in-isolated-netns",
                    pytrace=False)
    if not PODID.exists():
        pytest.fail(f"{PODID} is not built (cmake --build <build> --target podid)", pytrace=False)


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)

    def codes(self) -> list[str]:
        return [f["code"] for f in self.json()["findings"]]

    def finding(self, code: str) -> dict:
        found = [f for f in self.json()["findings"] if f["code"] == code]
        assert found, f"no {code} finding in:\n{self.stdout}\n{self.stderr}"
        return found[0]


# What doctor needs of the Kubernetes API, and all it gets here: read-only lists (docs/doctor.md says the same).
READER_RULES = [
    (["get", "list"], [""], ["pods", "nodes", "serviceaccounts"]),
    (["get", "list"], ["aadpodidentity.k8s.io"], ["azureidentities", "azureidentitybindings",
                                                  "azureassignedidentities", "azurepodidentityexceptions"]),
]


class Doctor:
    """Runs `podid` against a ControllerCluster: a kubeconfig that may only read (READER_RULES) and, unless
    azure=False, the controller's azure.json (so ARM answers for the controller's principal) and the test CA."""

    def __init__(self, cluster: ControllerCluster):
        self.c = cluster
        token = cluster.api.add_token("podid-doctor-reader", READER_RULES)
        self.kubeconfig = cluster.api.kubeconfig(cluster.tmp / "doctor.kubeconfig", token=token,
                                                 user="podid-doctor-reader")

    def run(self, *args: str, azure: bool = True, output: Optional[str] = "json") -> Run:
        cmd = [str(PODID), *args, "--kubeconfig", str(self.kubeconfig)]
        if azure:
            cmd += ["--cloud-config", str(self.c.cloud_config), "--azure-ca-file", self.c.ca.bundle_path]
        if output:
            cmd += ["-o", output]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self.c.controller_env())
        return Run(p.returncode, p.stdout, p.stderr)

    def add_agent(self, node: str, ready: bool = True) -> dict:
        """A podid-agent pod as the DaemonSet makes it, Ready as its /readyz would make it."""
        return self.c.api.create_pod({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"podid-agent-{node}", "namespace": CONTROLLER_NS,
                         "labels": {"app.kubernetes.io/name": "podid", "app.kubernetes.io/component": "agent"}},
            "spec": {"nodeName": node, "containers": [{"name": "agent", "image": "podid"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})

    def agents_everywhere(self) -> None:
        for ss in self.c.scale_sets.values():
            for node in ss.nodes:
                self.add_agent(node)


@pytest.fixture
def cluster(tmp_path):
    with ControllerCluster(tmp_path) as c:
        yield c


@pytest.fixture
def doctor(cluster) -> Doctor:
    return Doctor(cluster)
