# SPDX-License-Identifier: Apache-2.0
"""Fixtures of podid-controller's end-to-end tests: a fresh ControllerCluster (podid_harness.controller_cluster)
per test, so that ARM counters and API request logs belong to that test alone.

Safety: every server listens on 127.0.0.1 with an OS-chosen port, and the session must run where nothing can
reach the machine's real metadata service (ctest runs it under scripts/in-isolated-netns); that is checked from
the routing table, without sending anything.
"""
from __future__ import annotations

import itertools
import subprocess

import pytest

from podid_harness.controller_cluster import CONTROLLER, ControllerCluster

_FORBIDDEN = ("169.254.169.254", "168.63.129.16")


def _routable(addr: str) -> bool:
    return subprocess.run(["ip", "route", "get", addr], capture_output=True).returncode == 0


@pytest.fixture(scope="session", autouse=True)
def isolated_session():
    routable = [a for a in _FORBIDDEN if _routable(a)]
    if routable:
        pytest.fail(f"{', '.join(routable)} routable from the test process: run this suite through ctest or "
                    "scripts/in-isolated-netns, so nothing can reach the machine's real metadata service",
                    pytrace=False)


@pytest.fixture
def controller_built():
    if not CONTROLLER.exists():
        pytest.fail(f"{CONTROLLER} is not built (cmake --build <build> --target podid-controller; "
                    "PODID_BUILD_DIR names the build directory)", pytrace=False)


_names = itertools.count(1)


@pytest.fixture
def uniq():
    return lambda prefix="t": f"{prefix}{next(_names)}"


@pytest.fixture
def cluster_options():
    """Overridden by a module (or a test's parametrisation) for other ControllerCluster options."""
    return {}


@pytest.fixture
def cluster(request, tmp_path, cluster_options):
    opts = dict(getattr(request.module, "CLUSTER_OPTIONS", {}))
    opts.update(cluster_options)
    with ControllerCluster(tmp_path, **opts) as c:
        request.node._podid_cluster = c
        try:
            yield c
        finally:
            request.node._podid_cluster = None


@pytest.fixture
def controller(cluster, controller_built):
    """The cluster with one replica running, leading, and caches synced."""
    cp = cluster.start_controller()
    cluster.wait_leader()
    cluster.wait_ready(cp)
    return cp


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    c = getattr(item, "_podid_cluster", None)
    if rep.failed and c is not None:
        try:
            rep.sections.append(("controller cluster", c.diagnostics()))
        except Exception as e:  # noqa: BLE001 - diagnostics must never hide the failure itself
            rep.sections.append(("controller cluster", f"diagnostics failed: {e!r}"))
