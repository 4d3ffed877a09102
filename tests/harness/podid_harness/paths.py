# SPDX-License-Identifier: Apache-2.0
"""Where the repository and the built binaries are: PODID_BUILD_DIR (ctest sets it), else <repo>/build."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("PODID_BUILD_DIR", REPO / "build"))
