# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the agent's end-to-end tests: a TokenCluster (podid_harness.token_cluster) per module, fresh pods
and identities per test.

Safety: the simulated node has no route off the machine, and the session must run where the test process
cannot reach the real metadata service either (ctest runs it under scripts/in-isolated-netns). That is checked
from the routing table, without sending anything.
"""
from __future__ import annotations

import itertools
import subprocess

import pytest

from podid_harness.agent_runner import AGENT
from podid_harness.privileged import require_root
from podid_harness.token_cluster import TokenCluster

_FORBIDDEN = ("169.254.169.254", "168.63.129.16")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_client: drives a real Azure SDK or tool (npm, Debian) inside pods")


def _routable(addr: str) -> bool:
    return subprocess.run(["ip", "route", "get", addr], capture_output=True).returncode == 0


@pytest.fixture(scope="session", autouse=True)
def isolated_session():
    require_root("the agent's end-to-end tests")
    routable = [a for a in _FORBIDDEN if _routable(a)]
    if routable:
        pytest.fail(f"{', '.join(routable)} routable from the test process: run this suite through ctest or "
                    "scripts/in-isolated-netns, so nothing can reach the machine's real metadata service",
                    pytrace=False)
    if not AGENT.exists():
        pytest.fail(f"{AGENT} is not built (cmake --build build --target podid-agent)", pytrace=False)


_names = itertools.count(1)


@pytest.fixture
def uniq():
    """A short unique suffix for names of pods, identities and namespaces within a module's cluster."""
    return lambda prefix="t": f"{prefix}{next(_names)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        mod_cluster = getattr(item.module, "_podid_cluster", None)
        if mod_cluster is not None and mod_cluster.agent is not None:
            rep.sections.append(("podid-agent log (tail)", mod_cluster.agent_log(4000)))


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    """The module's standard-mode cluster; a module sets CLUSTER_OPTIONS = {...} for other agent flags."""
    opts = getattr(request.module, "CLUSTER_OPTIONS", {})
    with TokenCluster(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), **opts) as c:
        request.module._podid_cluster = c
        try:
            yield c
        finally:
            request.module._podid_cluster = None
