// SPDX-License-Identifier: Apache-2.0
// The caches as the Reflectors feed them: objects parsed into records on arrival, relists applied as the changes
// they imply (a broken-off list changes nothing), objects that do not parse reported and left out, and the
// controller's own writes applied at once, with the watch's older copies of them ignored.
#include "controller/cluster/cluster_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "common/crd/crd_fixtures.h"

namespace podid::controller {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace podid::agent::testing;
using Type = k8s::WatchEventType;

constexpr const char* kSub = "00000000-0000-0000-0000-0000000000aa";

std::string provider(const std::string& vmss, int i) {
  return std::string("azure:///subscriptions/") + kSub +
         "/resourceGroups/rg/providers/Microsoft.Compute/"
         "virtualMachineScaleSets/" +
         vmss + "/virtualMachines/" + std::to_string(i);
}
std::string vmss_key(const std::string& vmss) {
  return arm::canonical_key(std::string("/subscriptions/") + kSub +
                            "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss);
}
json node(const std::string& name, const std::string& provider_id) {
  return {{"metadata", {{"name", name}, {"resourceVersion", "1"}}}, {"spec", {{"providerID", provider_id}}}};
}
json pod(const std::string& name, const std::string& node_name, const std::string& rv = "1") {
  return {{"metadata",
           {{"name", name},
            {"namespace", "app"},
            {"uid", "uid-" + name},
            {"resourceVersion", rv},
            {"labels", {{"aadpodidbinding", "web"}}},
            {"managedFields", json::array({1, 2, 3})}}},
          {"spec", {{"nodeName", node_name}, {"containers", json::array({{{"name", "c"}, {"image", "x"}}})}}},
          {"status", {{"phase", "Running"}}}};
}

class ClusterCacheTest : public ::testing::Test {
 protected:
  ClusterCacheTest()
      : api_(io_.get_executor(), config(), "podid-test"),
        cache_(io_.get_executor(), api_, false, [this](Reach r) { reaches_.push_back(std::move(r)); }) {
    cache_.apply(CachedKind::kNode, Type::kAdded, node("node-1", provider("pool1", 0)));
    cache_.apply(CachedKind::kNode, Type::kAdded, node("node-2", provider("pool2", 0)));
    cache_.apply(CachedKind::kIdentity, Type::kAdded,
                 identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a")}));
    cache_.apply(CachedKind::kBinding, Type::kAdded, binding_json({.name = "web", .identity = "id-a"}));
    reaches_.clear();
  }

  static k8s::ClusterConfig config() {
    k8s::ClusterConfig c;
    c.server = http::Url::parse("https://127.0.0.1:1").value();  // never called: the reflectors are not started
    return c;
  }

  std::vector<std::string> computes_reached() const {
    std::vector<std::string> out;
    for (const auto& r : reaches_) out.insert(out.end(), r.computes.begin(), r.computes.end());
    return out;
  }

  boost::asio::io_context io_;
  k8s::ApiClient api_;
  std::vector<Reach> reaches_;
  ClusterCache cache_;
};

TEST_F(ClusterCacheTest, AnObjectIsARecordAndItsEventReachesItsCompute) {
  cache_.apply(CachedKind::kPod, Type::kAdded, pod("web-0", "node-1"));
  EXPECT_THAT(computes_reached(), ElementsAre(vmss_key("pool1")));
  const PodRecord* p = cache_.desired().pod({"app", "web-0"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->uid, "uid-web-0");
  EXPECT_EQ(p->selector, "web");
  EXPECT_EQ(p->node, "node-1");
  EXPECT_EQ(cache_.desired().assignment_count(), 1u);
  reaches_.clear();
  cache_.apply(CachedKind::kPod, Type::kModified, pod("web-0", "node-1", "2"));  // nothing the controller reads
  EXPECT_THAT(reaches_, IsEmpty());
  cache_.apply(CachedKind::kPod, Type::kDeleted, pod("web-0", "node-1", "3"));
  EXPECT_THAT(computes_reached(), ElementsAre(vmss_key("pool1")));
  EXPECT_EQ(cache_.desired().assignment_count(), 0u);
}

TEST_F(ClusterCacheTest, ARelistIsAppliedAsTheChangesItImplies) {
  cache_.apply(CachedKind::kPod, Type::kAdded, pod("web-0", "node-1"));
  cache_.apply(CachedKind::kPod, Type::kAdded, pod("web-1", "node-2"));
  reaches_.clear();
  // The list brings web-0 unchanged, web-2 new, and lacks web-1 (deleted while the watch was down).
  cache_.list_item(CachedKind::kPod, pod("web-0", "node-1"));
  cache_.list_item(CachedKind::kPod, pod("web-2", "node-1"));
  EXPECT_THAT(reaches_, IsEmpty()) << "nothing applied before the list completes";
  cache_.list_end(CachedKind::kPod, true);
  EXPECT_THAT(computes_reached(), UnorderedElementsAre(vmss_key("pool1"), vmss_key("pool2")));
  EXPECT_NE(cache_.desired().pod({"app", "web-2"}), nullptr);
  EXPECT_EQ(cache_.desired().pod({"app", "web-1"}), nullptr);
  EXPECT_NE(cache_.desired().pod({"app", "web-0"}), nullptr);
}

TEST_F(ClusterCacheTest, AListThatBrokeOffChangesNothing) {
  cache_.apply(CachedKind::kPod, Type::kAdded, pod("web-0", "node-1"));
  reaches_.clear();
  cache_.list_item(CachedKind::kPod, pod("web-9", "node-1"));
  cache_.list_end(CachedKind::kPod, false);  // 410 Gone on the next page
  EXPECT_THAT(reaches_, IsEmpty());
  EXPECT_NE(cache_.desired().pod({"app", "web-0"}), nullptr);
  EXPECT_EQ(cache_.desired().pod({"app", "web-9"}), nullptr);
  cache_.list_item(CachedKind::kPod, pod("web-0", "node-1"));
  cache_.list_end(CachedKind::kPod, true);  // the fresh list from the first page
  EXPECT_EQ(cache_.desired().pod({"app", "web-9"}), nullptr);
}

TEST_F(ClusterCacheTest, AnEmptyCompletedListIsSaidToo) {
  // It may be the last list the controller waits for: without a word, it would never start.
  cache_.list_end(CachedKind::kAssignedIdentity, true);
  ASSERT_EQ(reaches_.size(), 1u);
  EXPECT_TRUE(reaches_[0].empty());
  cache_.list_end(CachedKind::kAssignedIdentity, false);
  EXPECT_EQ(reaches_.size(), 1u);
}

TEST_F(ClusterCacheTest, AnObjectThatDoesNotParseIsReportedAndLeftOut) {
  json bad = identity_json({.name = "id-b", .client_id = kCidB});
  bad["spec"]["type"] = "zero";
  cache_.apply(CachedKind::kIdentity, Type::kAdded, bad);
  ASSERT_EQ(cache_.invalid().size(), 1u);
  EXPECT_EQ(cache_.invalid()[0].id(), "AzureIdentity/app/id-b/InvalidObject");
  EXPECT_EQ(cache_.desired().identity({"app", "id-b"}), nullptr);
  cache_.apply(CachedKind::kIdentity, Type::kModified,
               identity_json({.name = "id-b", .client_id = kCidB, .resource_id = resource_id("b")}));
  EXPECT_THAT(cache_.invalid(), IsEmpty());
  EXPECT_NE(cache_.desired().identity({"app", "id-b"}), nullptr);
}

TEST_F(ClusterCacheTest, TheControllersWritesApplyAtOnceAndOlderWatchEventsAreIgnored) {
  cache_.apply(CachedKind::kPod, Type::kAdded, pod("web-0", "node-1"));
  auto a = cache_.desired().assignment({"default", "web-0-app-id-a"});
  ASSERT_TRUE(a);
  json written = build_assigned_identity(*a, kStateAssigned);
  written["metadata"]["resourceVersion"] = "50";
  cache_.observe_written(written);
  auto held = cache_.assigned().find({"default", "web-0-app-id-a"});
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->resource_version, "50");
  EXPECT_EQ(held->state, crd::AssignedState::kAssigned);
  EXPECT_EQ(held->pod_uid, "uid-web-0");
  // The watch still delivers an older copy (Created, 49) and then the write itself: neither goes back.
  json older = written;
  older["metadata"]["resourceVersion"] = "49";
  older["status"]["status"] = "Created";
  cache_.apply(CachedKind::kAssignedIdentity, Type::kAdded, older);
  EXPECT_EQ(cache_.assigned().find({"default", "web-0-app-id-a"})->resource_version, "50");
  cache_.apply(CachedKind::kAssignedIdentity, Type::kModified, written);
  // After that, the watch is the source again.
  json newer = written;
  newer["metadata"]["resourceVersion"] = "51";
  newer["metadata"]["labels"]["extra"] = "x";
  cache_.apply(CachedKind::kAssignedIdentity, Type::kModified, newer);
  EXPECT_EQ(cache_.assigned().find({"default", "web-0-app-id-a"})->resource_version, "51");
  // A write that let it go (marked for deletion, no finalizer) removes it.
  json gone = newer;
  gone["metadata"]["resourceVersion"] = "52";
  gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  gone["metadata"]["finalizers"] = json::array();
  cache_.observe_written(gone);
  EXPECT_EQ(cache_.assigned().find({"default", "web-0-app-id-a"}), nullptr);
  cache_.apply(CachedKind::kAssignedIdentity, Type::kModified, newer);  // late: ignored
  EXPECT_EQ(cache_.assigned().find({"default", "web-0-app-id-a"}), nullptr);
}

}  // namespace
}  // namespace podid::controller
