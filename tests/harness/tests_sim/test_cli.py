# SPDX-License-Identifier: Apache-2.0
"""The shell entry point: create, add-pod, exec, show, destroy, as a script would use them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import leftovers

HARNESS = str(Path(__file__).resolve().parents[1])


def sim(*args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "podid_harness.sim", *args], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=HARNESS), timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_create_exec_destroy_round_trip(root, tmp_path):
    state = tmp_path / "node.json"
    created = json.loads(sim("create", "--state", str(state), "--network", "azure-cni", "--cgroup-driver",
                             "cgroupfs", "--pod", "pod-a", "--pod", "kube-system/pod-b:guaranteed",
                             "--address", "169.254.32.9/32", "--fabric-address", "169.254.169.254/32").stdout)
    prefix = created["ledger"]["prefix"]
    try:
        assert oct(state.stat().st_mode & 0o777) == "0o600"
        pods = {p["name"]: p for p in created["pods"]}
        assert pods["pod-b"]["namespace"] == "kube-system" and pods["pod-b"]["qos"] == "guaranteed"
        assert f"/kubepods/pod{pods['pod-b']['uid']}/" in pods["pod-b"]["container_cgroup_dir"]

        r = sim("exec", "--state", str(state), "--pod", "kube-system/pod-b", "--",
                "sh", "-c", "cat /proc/self/cgroup; ip -4 -o addr show dev eth0; grep CapEff /proc/self/status")
        mount_rel = pods["pod-b"]["container_cgroup_dir"].split(f"/{prefix}-", 1)[1]
        assert f"0::/{prefix}-{mount_rel}" in r.stdout
        assert f"inet {pods['pod-b']['ip']}/32" in r.stdout
        assert "CapEff:\t00000000a80425fb" in r.stdout
        r = sim("exec", "--state", str(state), "--pod", "pod-a", "--no-net-raw", "--",
                "sh", "-c", "grep CapEff /proc/self/status; exit 3", check=False)
        assert r.returncode == 3 and "CapEff:\t00000000a80405fb" in r.stdout

        r = sim("exec", "--state", str(state), "--node", "--cgroup", "podid-agent", "--",
                "sh", "-c", "cat /proc/self/cgroup; ip -4 -o addr show dev imds0")
        assert f"0::/{prefix}-node-a/podid-agent" in r.stdout and "169.254.32.9/32" in r.stdout
        r = sim("exec", "--state", str(state), "--fabric", "--", "ip", "-4", "-o", "addr", "show", "dev", "svc0")
        assert "169.254.169.254/32" in r.stdout

        added = json.loads(sim("add-pod", "--state", str(state), "pod-c", "--host-network", "--label",
                               "aadpodidbinding=web").stdout)
        assert added["labels"] == {"aadpodidbinding": "web"} and added["ip"] == created["bridge_ip"]
        assert sim("show", "--state", str(state), "--pod", "pod-c", "--field", "ip").stdout.strip() == added["ip"]
        assert sim("show", "--state", str(state), "--field", "netns").stdout.strip() == f"{prefix}-node-a"
        assert sim("exec", "--state", str(state), "--pod", "nope", "--", "true", check=False).returncode != 0
        assert sim("create", "--state", str(state), check=False).returncode != 0     # never overwrite a node
    finally:
        sim("destroy", "--state", str(state), check=False)
    assert not state.exists()
    assert leftovers(prefix) == []


def test_destroy_refuses_a_state_file_naming_foreign_things(root, tmp_path):
    state = tmp_path / "node.json"
    sim("create", "--state", str(state))
    doc = json.loads(state.read_text())
    good = json.loads(state.read_text())
    doc["ledger"]["netns"].append("some-other-netns")
    state.write_text(json.dumps(doc))
    r = sim("destroy", "--state", str(state), check=False)
    assert r.returncode != 0 and "prefix" in r.stderr
    state.write_text(json.dumps(good))
    sim("destroy", "--state", str(state))
    assert leftovers(good["ledger"]["prefix"]) == []


def test_cli_usage_errors_are_clear(root, tmp_path):
    r = sim("destroy", "--state", str(tmp_path / "missing.json"), check=False)
    assert r.returncode != 0 and "no such state file" in r.stderr
    r = sim("create", "--state", str(tmp_path / "x.json"), "--network", "flannel", check=False)
    assert r.returncode == 2 and "invalid choice" in r.stderr
