// SPDX-License-Identifier: Apache-2.0
#include "cli/node_checks.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string>

namespace podid::cli {
namespace {

constexpr std::pair<int, int> kMinimumKernel{5, 8};
constexpr std::pair<int, int> kPreroutingKernel{6, 4};
constexpr std::pair<int, int> kAllHooksKernel{6, 6};

// "Nodes a, b, c (+N more)": at 1,000 nodes a finding stays one line.
std::string nodes_object(const std::vector<std::string>& names) {
  constexpr size_t kNamed = 3;
  std::string out = names.size() == 1 ? "Node " : "Nodes ";
  for (size_t i = 0; i < names.size() && i < kNamed; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kNamed) out += " (+" + std::to_string(names.size() - kNamed) + " more)";
  return out;
}

// The node-image upgrade of each pool the nodes are in (AKS), or what to look at elsewhere.
std::string upgrade_fix(const ClusterView& view, const std::vector<std::string>& names) {
  std::vector<std::string> pools;
  for (const auto& name : names) {
    const NodeFacts* node = view.node(name);
    if (node && !node->pool.empty() && std::find(pools.begin(), pools.end(), node->pool) == pools.end()) {
      pools.push_back(node->pool);
    }
  }
  if (pools.empty()) return "uname -r   # on the node: move its workloads to nodes with kernel 6.6 or later";
  std::string out;
  for (const auto& pool : pools) {
    out += (out.empty() ? "" : "\n") + std::string("az aks nodepool upgrade --resource-group \"$RESOURCE_GROUP\" ") +
           "--cluster-name \"$CLUSTER\" --name " + pool + " --node-image-only   # or a pool on a 6.6+ image";
  }
  return out;
}

}  // namespace

std::optional<std::pair<int, int>> kernel_version(std::string_view release) {
  int major = 0, minor = 0;
  const char* end = release.data() + release.size();
  auto [p, ec] = std::from_chars(release.data(), end, major);
  if (ec != std::errc() || p == end || *p != '.') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, minor);
  if (ec2 != std::errc()) return std::nullopt;
  return std::make_pair(major, minor);
}

void node_findings(const ClusterView& view, std::vector<Finding>& out) {
  std::map<std::string, std::vector<std::string>> by_kernel;  // release -> nodes
  std::vector<std::string> kubenet;
  for (const auto& node : view.nodes) {
    if (!node.kernel_version.empty()) by_kernel[node.kernel_version].push_back(node.name);
    if (node.network_plugin == "kubenet") kubenet.push_back(node.name);
  }
  for (const auto& [release, names] : by_kernel) {
    auto version = kernel_version(release);
    if (!version || *version >= kAllHooksKernel) continue;
    if (*version < kMinimumKernel) {
      out.push_back({Severity::kError, "KernelTooOld", nodes_object(names),
                     "kernel " + release + " is older than 5.8: podid-agent refuses to start there (its programs " +
                         "need ring buffers and helpers 5.8 brought), so pods on these nodes get no identity",
                     upgrade_fix(view, names)});
    } else if (*version < kPreroutingKernel) {
      out.push_back({Severity::kWarning, "KernelWithoutFrameHooks", nodes_object(names),
                     "kernel " + release + " has none of podid's frame hooks (pre-routing needs 6.4, the pod " +
                         "interface and uplink hooks 6.6): a pod holding NET_RAW can send AF_PACKET frames to the " +
                         "metadata service and spoof ARP on a kubenet bridge. Drop NET_RAW from pods here (Pod " +
                         "Security \"restricted\"), or run them on 6.6 nodes",
                     upgrade_fix(view, names)});
    } else {
      out.push_back({Severity::kWarning, "KernelPartialFrameHooks", nodes_object(names),
                     "kernel " + release + " has the pre-routing hook only (the pod interface and uplink hooks " +
                         "need 6.6): frames to the metadata service are dropped, but a pod holding NET_RAW can " +
                         "still spoof its neighbours' addresses on a kubenet bridge",
                     upgrade_fix(view, names)});
    }
  }
  if (!kubenet.empty()) {
    out.push_back({Severity::kInfo, "NetworkPluginKubenet", nodes_object(kubenet),
                   "kubenet is supported: podid knows a pod by its socket's cgroup, not by its address, so the ARP "
                   "spoofing that made aad-pod-identity refuse kubenet (CVE-2021-1677) gets no other pod's token; "
                   "on kernels with the frame hooks spoofed frames are dropped too",
                   ""});
  }
}

}  // namespace podid::cli
