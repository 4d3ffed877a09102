// SPDX-License-Identifier: Apache-2.0
// `podid doctor`'s per-node checks from the Node objects: the kernel and what it enables, the network plugin.
#include "cli/node_checks.h"

#include <gtest/gtest.h>

#include "cli_fixtures.h"

namespace podid::cli {
namespace {

using namespace testing;

json node_on(const std::string& name, const std::string& kernel, const std::string& plugin = "",
             const std::string& pool = "nodepool1") {
  json n = node_json(name);
  n["status"]["nodeInfo"] = {{"kernelVersion", kernel}, {"containerRuntimeVersion", "containerd://1.7.15"}};
  n["metadata"]["labels"] = {{"kubernetes.azure.com/agentpool", pool}};
  if (!plugin.empty()) n["metadata"]["labels"]["kubernetes.azure.com/network-plugin"] = plugin;
  return n;
}

std::vector<Finding> findings_for(std::vector<json> nodes) {
  ListedObjects l;
  l.nodes = std::move(nodes);
  std::vector<Finding> out;
  node_findings(build_view(l, "podid-system"), out);
  return out;
}

}  // namespace

TEST(NodeChecks, ReadsKernelReleases) {
  EXPECT_EQ(kernel_version("5.15.0-1064-azure"), std::make_pair(5, 15));
  EXPECT_EQ(kernel_version("6.6.64.2-9.azl3"), std::make_pair(6, 6));
  EXPECT_EQ(kernel_version("6"), std::nullopt);
  EXPECT_EQ(kernel_version("linux"), std::nullopt);
  EXPECT_EQ(kernel_version(""), std::nullopt);
}

TEST(NodeChecks, AKernelTooOldForTheAgentIsAnError) {
  auto f = findings_for({node_on("old-0", "5.4.0-1109-azure", "", "legacy")});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "KernelTooOld");
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_EQ(f[0].object, "Node old-0");
  EXPECT_NE(f[0].cause.find("kernel 5.4.0-1109-azure is older than 5.8"), std::string::npos) << f[0].cause;
  EXPECT_NE(f[0].fix.find("--name legacy --node-image-only"), std::string::npos) << f[0].fix;
}

TEST(NodeChecks, KernelsWithoutOrWithSomeFrameHooksAreGroupedByRelease) {
  std::vector<json> nodes;
  for (int i = 0; i < 5; ++i) nodes.push_back(node_on("ubuntu-" + std::to_string(i), "5.15.0-1064-azure"));
  nodes.push_back(node_on("mid-0", "6.5.0-1025-azure", "", "mid"));
  nodes.push_back(node_on("azl-0", "6.6.64.2-9.azl3", "", "azl"));
  auto f = findings_for(nodes);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].code, "KernelWithoutFrameHooks");
  EXPECT_EQ(f[0].object, "Nodes ubuntu-0, ubuntu-1, ubuntu-2 (+2 more)");
  EXPECT_NE(f[0].cause.find("NET_RAW"), std::string::npos);
  EXPECT_EQ(f[0].fix.find("\n"), std::string::npos);  // one pool, one command
  EXPECT_EQ(f[1].code, "KernelPartialFrameHooks");
  EXPECT_EQ(f[1].object, "Node mid-0");
}

TEST(NodeChecks, KubenetIsFineAndSaysWhy) {
  auto f = findings_for({node_on("a", "6.6.64.2-9.azl3", "kubenet"), node_on("b", "6.8.0-1010-azure", "azure")});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, "NetworkPluginKubenet");
  EXPECT_EQ(f[0].severity, Severity::kInfo);
  EXPECT_EQ(f[0].object, "Node a");
  EXPECT_NE(f[0].cause.find("CVE-2021-1677"), std::string::npos);
}

TEST(NodeChecks, ANodeThatSaysNothingIsNothingWrong) { EXPECT_TRUE(findings_for({node_json("bare")}).empty()); }

}  // namespace podid::cli
