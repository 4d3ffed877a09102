# SPDX-License-Identifier: Apache-2.0
"""Gate for tests that need root and a real kernel (ctest kinds `bpf` and `e2e`).

Not root: the test skips with a clear message, unless PODID_REQUIRE_PRIVILEGED=1 (set by .ci/run), in which
case it fails: CI runs as root, and a privileged test that silently skipped there would hide a regression.
"""
from __future__ import annotations

import os

import pytest


def require_root(what: str = "this test") -> None:
    if os.geteuid() == 0:
        return
    msg = f"{what} needs root (network namespaces, cgroups, BPF)"
    if os.environ.get("PODID_REQUIRE_PRIVILEGED") == "1":
        pytest.fail(msg + ", and PODID_REQUIRE_PRIVILEGED=1 forbids skipping it")
    pytest.skip(msg)
