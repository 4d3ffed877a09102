// SPDX-License-Identifier: Apache-2.0
#include "controller/cluster/cluster_cache.h"

#include <gtest/gtest.h>

namespace podid::controller {
namespace {

using nlohmann::json;

TEST(TrimObject, PodKeepsWhatIdentityChoiceReadsAndDropsTheRest) {
  json pod = {{"metadata", {{"name", "web"}, {"namespace", "a"}, {"uid", "u1"}, {"labels", {{"aadpodidbinding", "s"}}},
                            {"deletionTimestamp", "2026-01-01T00:00:00Z"}, {"managedFields", json::array({1, 2})},
                            {"annotations", {{"big", std::string(4096, 'x')}}}}},
              {"spec", {{"nodeName", "n1"}, {"containers", json::array({{{"name", "c"}}})}}},
              {"status", {{"phase", "Running"}, {"podIP", "10.0.0.1"}, {"containerStatuses", json::array()}}}};
  json t = trim_object(CachedKind::kPod, pod);
  EXPECT_EQ(t["metadata"]["labels"]["aadpodidbinding"], "s");
  EXPECT_EQ(t["metadata"]["deletionTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(t["spec"]["nodeName"], "n1");
  EXPECT_EQ(t["status"]["phase"], "Running");
  EXPECT_FALSE(t["metadata"].contains("managedFields"));
  EXPECT_FALSE(t["metadata"].contains("annotations"));
  EXPECT_FALSE(t["spec"].contains("containers"));
  EXPECT_FALSE(t["status"].contains("containerStatuses"));
  EXPECT_TRUE(crd::parse_pod(t).ok());
}

TEST(TrimObject, NodeKeepsOnlyItsProviderId) {
  json node = {{"metadata", {{"name", "n1"}, {"labels", {{"a", "b"}}}}},
               {"spec", {{"providerID", "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v"}}},
               {"status", {{"images", json::array({"x"})}}}};
  json t = trim_object(CachedKind::kNode, node);
  EXPECT_EQ(t["spec"]["providerID"], node["spec"]["providerID"]);
  EXPECT_FALSE(t.contains("status"));
  EXPECT_FALSE(t["metadata"].contains("labels"));
}

TEST(TrimObject, CustomResourcesKeepEverythingButManagedFields) {
  json identity = {{"apiVersion", "aadpodidentity.k8s.io/v1"}, {"kind", "AzureIdentity"},
                   {"metadata", {{"name", "id"}, {"namespace", "a"}, {"managedFields", json::array({1})}}},
                   {"spec", {{"type", 0}, {"clientID", "c"}}}, {"status", {{"conditions", json::array()}}}};
  json t = trim_object(CachedKind::kIdentity, identity);
  EXPECT_FALSE(t["metadata"].contains("managedFields"));
  identity["metadata"].erase("managedFields");
  EXPECT_EQ(t, identity);
}

}  // namespace
}  // namespace podid::controller
