// SPDX-License-Identifier: Apache-2.0
//
// `podid doctor`'s per-node checks, from what the Node objects already say: the kernel the kubelet reports
// (status.nodeInfo.kernelVersion) and what it lets podid do, and the network plugin AKS labels the node with.
// No call per node: the nodes are in the one list doctor reads, so 1,000 nodes cost nothing more than their
// listing. What only the node's agent can see (its programs attached, its frame hooks, cgroup v2) reaches
// doctor as the agent pod's readiness (cluster_checks.h: AgentNotReady), since its /readyz is its readiness probe.
//
// Kernels (README, docs/security.md): below 5.8 podid-agent refuses to start (ring buffers, the helpers its
// programs call); below 6.4 there is no frame hook; 6.4 and 6.5 have pre-routing only; 6.6 has all three.
// Findings are grouped by kernel version, one per version, naming the nodes (a pool's nodes share their image).
// Codes: KernelTooOld (error), KernelWithoutFrameHooks, KernelPartialFrameHooks (warning), NetworkPluginKubenet
// (info: kubenet is supported, and why).
#pragma once

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/cluster_view.h"
#include "cli/findings.h"

namespace podid::cli {

// (major, minor) of a kernel release ("5.15.0-1064-azure" -> {5, 15}), or nothing.
std::optional<std::pair<int, int>> kernel_version(std::string_view release);

void node_findings(const ClusterView& view, std::vector<Finding>& out);

}  // namespace podid::cli
