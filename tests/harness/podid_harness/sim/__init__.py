# SPDX-License-Identifier: Apache-2.0
"""Simulated Kubernetes nodes and pods on one machine, for tests that need real kernel objects: network
namespaces joined to a node namespace, and cgroup v2 directories laid out as the kubelet lays them out.
See README.md beside this file."""
from .cgroups import find_cgroup2_mount
from .cleanup import CleanupError
from .manifests import azure_provider_id, node_manifest, pod_manifest
from .node import Node
from .pod import Pod
from .proc import CONTAINERD_CAPS

__all__ = ["Node", "Pod", "find_cgroup2_mount", "CleanupError", "azure_provider_id", "node_manifest",
           "pod_manifest", "CONTAINERD_CAPS"]
