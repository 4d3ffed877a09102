# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the doc tests: kubectl, and a fresh API stand-in per test with a shell to run doc blocks in
(doc_stand_in.py)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from doc_stand_in import Shell, every_object_the_docs_apply, register_missing_types
from podid_harness.kube import KubeApiServer


@pytest.fixture(scope="session")
def kubectl_binary() -> str:
    # As scripts/test: Debian's kubernetes-client (1.20) when installed, the stand-in's target; kubectl 1.32
    # sends `create namespace` as protobuf, which the stand-in does not decode.
    debian = Path("/opt/podid/kubernetes-client/usr/bin/kubectl")
    binary = os.environ.get("PODID_KUBECTL") or (str(debian) if debian.exists() else shutil.which("kubectl"))
    if not binary:
        pytest.fail("kubectl not found (scripts/install-deps installs it; or set PODID_KUBECTL)", pytrace=False)
    return binary



@pytest.fixture
def cluster(tmp_path, kubectl_binary) -> Iterator[Shell]:
    with KubeApiServer.start() as api:
        register_missing_types(api, every_object_the_docs_apply())
        yield Shell(api, kubectl_binary, tmp_path)
