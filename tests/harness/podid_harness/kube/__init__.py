# SPDX-License-Identifier: Apache-2.0
"""A Kubernetes API server stand-in for podid's tests. See README.md here for what it implements."""
from .api import KubeApiServer
from .auth import ADMIN_USER, Rule
from .errors import ApiError

__all__ = ["KubeApiServer", "Rule", "ApiError", "ADMIN_USER"]
