// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/pod_store.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace podid::agent {
namespace {

using nlohmann::json;

json pod(const std::string& name, const std::string& uid, const std::string& ip = "10.244.1.5") {
  return {{"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", uid}, {"resourceVersion", "1"}}},
          {"spec", {{"nodeName", "node-a"}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

constexpr const char* kUidA = "11111111-1111-1111-1111-111111111111";
constexpr const char* kUidB = "22222222-2222-2222-2222-222222222222";

TEST(PodStore, WatchEventsAddUpdateAndRemovePods) {
  PodStore store;
  std::vector<std::string> removed;
  store.on_pod_removed([&](const PodInfo& p) { removed.push_back(p.name); });
  store.apply(k8s::WatchEventType::kAdded, pod("web-0", kUidA));
  ASSERT_NE(store.by_uid(kUidA), nullptr);
  EXPECT_EQ(store.by_uid(kUidA)->pod_ips, std::vector<std::string>{"10.244.1.5"});
  store.apply(k8s::WatchEventType::kModified, pod("web-0", kUidA, "10.244.1.9"));
  EXPECT_EQ(store.by_uid(kUidA)->pod_ips, std::vector<std::string>{"10.244.1.9"});
  auto before = store.generation();
  store.apply(k8s::WatchEventType::kDeleted, pod("web-0", kUidA));
  EXPECT_EQ(store.by_uid(kUidA), nullptr);
  EXPECT_GT(store.generation(), before);
  EXPECT_EQ(removed, std::vector<std::string>{"web-0"});
}

TEST(PodStore, ARelistDropsPodsThatAreGoneAndSaysSo) {
  PodStore store;
  std::vector<std::string> removed;
  store.on_pod_removed([&](const PodInfo& p) { removed.push_back(p.name); });
  store.replace({pod("web-0", kUidA), pod("web-1", kUidB)});
  EXPECT_EQ(store.size(), 2u);
  store.replace({pod("web-1", kUidB)});
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.by_uid(kUidA), nullptr);
  EXPECT_EQ(removed, std::vector<std::string>{"web-0"});
}

TEST(PodStore, AStaticPodIsFoundByItsConfigHash) {
  // The kubelet names a static pod's cgroup after its config hash; the API's mirror pod has another UID.
  PodStore store;
  json mirror = pod("etcd-node-a", kUidB);
  mirror["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "6b1e4c8ea1d84cbd9ed4a3f2e6a9f0c1"}};
  store.apply(k8s::WatchEventType::kAdded, mirror);
  const PodInfo* found = store.by_uid("6b1e4c8ea1d84cbd9ed4a3f2e6a9f0c1");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "etcd-node-a");
  store.apply(k8s::WatchEventType::kDeleted, mirror);
  EXPECT_EQ(store.by_uid("6b1e4c8ea1d84cbd9ed4a3f2e6a9f0c1"), nullptr);
}

TEST(PodStore, AMalformedPodIsSkippedAndCounted) {
  PodStore store;
  store.apply(k8s::WatchEventType::kAdded, json{{"metadata", {{"name", "x"}}}});  // no uid, no namespace
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.parse_errors(), 1u);
}

// Found by tests/fuzz (list_page): reading metadata.uid threw nlohmann's type_error out of the store (and out of
// the reflector feeding it) when an item was not an object or its uid not a string.
TEST(PodStore, ItemsOfAnyShapeAreSkippedNotThrown) {
  PodStore store;
  store.replace({pod("web-0", kUidA)});
  json uid_not_a_string = pod("web-1", kUidB);
  uid_not_a_string["metadata"]["uid"] = json::array({1});
  EXPECT_NO_THROW(store.replace({json(1), json("pod"), json::array(), uid_not_a_string, pod("web-0", kUidA)}));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_NE(store.by_uid(kUidA), nullptr);
  EXPECT_NO_THROW(store.apply(k8s::WatchEventType::kDeleted, uid_not_a_string));
  EXPECT_NO_THROW(store.apply(k8s::WatchEventType::kDeleted, json{{"metadata", 7}}));
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace podid::agent
