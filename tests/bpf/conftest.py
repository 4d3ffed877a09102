# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the kernel-path tests: a simulated node with the agent running on it.

Every test gets a fresh node (its own netns, cgroup tree and pin directory), so tests never share kernel
state. The stand-in at 169.254.169.254:80 (an HTTP server answering {"stand_in": true}) sits where IMDS sits
on Azure, behind the node's uplink in the node's fabric namespace, so a test can prove where a connection
went; the real service is unreachable from the node's and the fabric's namespaces.

`node`/`agent` are a kubenet node; `layout_node`/`layout_agent` the same for each pod network (kubenet bridge
and Azure CNI's routed veths).
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid

import pytest

from podid_harness.privileged import require_root
from podid_harness.sim import Node

from podid_harness.agent_runner import (AGENT, IMDS, PROBE, STAND_IN_BODY, STAND_IN_SERVER, Agent,  # noqa: F401
                                         free_port, probe)

WIRESERVER = "168.63.129.16"


@contextlib.contextmanager
def _node(network: str):
    require_root("the kernel-path tests")
    for binary in (AGENT, PROBE):
        if not binary.exists():
            pytest.fail(f"{binary} is not built; run scripts/test (or cmake --build build)")
    with Node.create(name="node-a", cgroup_driver="systemd", network=network) as n:
        n.add_fabric_address(f"{IMDS}/32")
        n.add_fabric_address(f"{WIRESERVER}/32")
        stand_in = n.fabric_popen(["/usr/bin/python3", "-c", STAND_IN_SERVER, IMDS, "80"], stdout=subprocess.PIPE,
                                  text=True)
        assert stand_in.stdout.readline().strip() == "ready"
        try:
            yield n
        finally:
            stand_in.kill()
            stand_in.wait()


@contextlib.contextmanager
def running_agent(node, tmp_path, extra=()):
    """podid-agent on `node`, inside kubepods as a DaemonSet pod is (so its own exemption is exercised); killed
    and uninstalled afterwards whatever happened."""
    pin_name = f"podid-test-{uuid.uuid4().hex[:8]}"
    cgroup = node.make_cgroup("podid-agent", under_kubepods=True)
    a = Agent(node, tmp_path, pin_name, free_port(node, node.agent_addr), cgroup, extra=extra)
    try:
        a.start()  # inside the try: a start that fails half-way must still have its pins removed
        yield a
    finally:
        a.kill()
        a.uninstall()
        if a.pins.exists():
            subprocess.run(["rm", "-rf", str(a.pins)], check=False)
        if a.log_path and a.log_path.exists():
            sys.stderr.write(f"--- agent log ({a.log_path}) ---\n{a.log_path.read_text()[-4000:]}\n")


@pytest.fixture
def node(tmp_path):
    with _node("kubenet") as n:
        yield n


@pytest.fixture
def agent(node, tmp_path):
    with running_agent(node, tmp_path) as a:
        yield a


@pytest.fixture(params=["kubenet", "azure-cni"])
def layout_node(request):
    with _node(request.param) as n:
        yield n


@pytest.fixture
def layout_agent(layout_node, tmp_path):
    with running_agent(layout_node, tmp_path) as a:
        yield a
