// SPDX-License-Identifier: Apache-2.0
// The pure halves of AssignedIdentityWriter and ConditionWriter: what they would send.
#include <gtest/gtest.h>

#include "controller/kube/assigned_identity_writer.h"
#include "controller/kube/condition_writer.h"

namespace podid::controller::kube {
namespace {

using nlohmann::json;
using namespace std::chrono;

const system_clock::time_point kT0 = sys_days{year{2024} / March / 5};

TEST(AssignedIdentityForCreate, AddsFinalizerOnceAndCreatedState) {
  json in = {{"metadata",
              {{"name", "web-team-a-id"},
               {"namespace", "default"},
               {"resourceVersion", "12"},
               {"uid", "x"},
               {"creationTimestamp", "2020-01-01T00:00:00Z"},
               {"labels", {{"nodename", "node-1"}}},
               {"finalizers", json::array({"other.example/keep"})}}},
             {"spec", {{"pod", "web"}, {"podNamespace", "team-a"}, {"nodename", "node-1"}}}};
  json out = assigned_identity_for_create(in);
  EXPECT_EQ(out["apiVersion"], "aadpodidentity.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AzureAssignedIdentity");
  EXPECT_EQ(out["metadata"]["finalizers"],
            json::array({"other.example/keep", "azureassignedidentity.finalizers.aadpodidentity.k8s.io"}));
  EXPECT_FALSE(out["metadata"].contains("resourceVersion"));
  EXPECT_FALSE(out["metadata"].contains("uid"));
  EXPECT_FALSE(out["metadata"].contains("creationTimestamp"));
  EXPECT_EQ(out["metadata"]["labels"]["nodename"], "node-1");
  EXPECT_EQ(out["spec"], in["spec"]);
  EXPECT_EQ(out["status"], (json{{"status", "Created"}, {"availableReplicas", 1}}));
  // Idempotent: the finalizer is never listed twice.
  EXPECT_EQ(assigned_identity_for_create(out)["metadata"]["finalizers"].size(), 2u);
  // A state given by the caller is kept (created directly as Assigned when the round saw the identity).
  in["status"] = {{"status", "Assigned"}};
  EXPECT_EQ(assigned_identity_for_create(in)["status"], (json{{"status", "Assigned"}, {"availableReplicas", 1}}));
}

TEST(AssignedStatePatch, StatusOnTheMainResource) {
  EXPECT_EQ(assigned_state_patch("Assigned"), (json{{"status", {{"status", "Assigned"}, {"availableReplicas", 1}}}}));
}

json identity_with(json conditions, int generation = 3) {
  json obj = {{"metadata", {{"name", "id"}, {"namespace", "ns"}, {"resourceVersion", "77"}, {"generation", generation}}},
              {"spec", {{"type", 0}}}};
  if (!conditions.is_null()) obj["status"]["conditions"] = std::move(conditions);
  return obj;
}

const Condition kNotReady{"Ready", false, "MissingRoleAssignment", "grant Managed Identity Operator"};

TEST(ConditionPatch, FirstConditionIsWrittenWithResourceVersionPrecondition) {
  auto patch = condition_patch(identity_with(nullptr), kNotReady, kT0);
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ(*patch, (json{{"metadata", {{"resourceVersion", "77"}}},
                          {"status",
                           {{"conditions", json::array({{{"type", "Ready"},
                                                         {"status", "False"},
                                                         {"reason", "MissingRoleAssignment"},
                                                         {"message", "grant Managed Identity Operator"},
                                                         {"lastTransitionTime", "2024-03-05T00:00:00Z"},
                                                         {"observedGeneration", 3}}})}}}}));
}

TEST(ConditionPatch, SameConditionWritesNothing) {
  auto first = condition_patch(identity_with(nullptr), kNotReady, kT0);
  json current = identity_with((*first)["status"]["conditions"]);
  EXPECT_FALSE(condition_patch(current, kNotReady, kT0 + hours(1)).has_value());
}

TEST(ConditionPatch, ChangesAreWrittenAndTransitionTimeMovesOnlyOnAFlip) {
  json current = identity_with((*condition_patch(identity_with(nullptr), kNotReady, kT0))["status"]["conditions"]);
  Condition new_message = kNotReady;
  new_message.message = "grant it on the scale set";
  auto p1 = condition_patch(current, new_message, kT0 + hours(1));
  ASSERT_TRUE(p1.has_value());
  EXPECT_EQ((*p1)["status"]["conditions"][0]["lastTransitionTime"], "2024-03-05T00:00:00Z");
  EXPECT_EQ((*p1)["status"]["conditions"][0]["message"], "grant it on the scale set");

  Condition ready{"Ready", true, "Assigned", "on 2 scale sets"};
  auto p2 = condition_patch(current, ready, kT0 + hours(2));
  ASSERT_TRUE(p2.has_value());
  EXPECT_EQ((*p2)["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ((*p2)["status"]["conditions"][0]["lastTransitionTime"], "2024-03-05T02:00:00Z");

  // A new generation of the spec is a change even with the same verdict.
  json next_gen = current;
  next_gen["metadata"]["generation"] = 4;
  auto p3 = condition_patch(next_gen, kNotReady, kT0 + hours(3));
  ASSERT_TRUE(p3.has_value());
  EXPECT_EQ((*p3)["status"]["conditions"][0]["observedGeneration"], 4);
}

TEST(ConditionPatch, OtherTypesKeptAndDuplicatesCollapsed) {
  json others = json::array({{{"type", "Synced"}, {"status", "True"}, {"reason", "R"}, {"message", "m"}},
                             {{"type", "Ready"}, {"status", "True"}, {"reason", "old"}, {"message", "old"}},
                             {{"type", "Ready"}, {"status", "True"}, {"reason", "dup"}, {"message", "dup"}}});
  auto patch = condition_patch(identity_with(others), kNotReady, kT0);
  ASSERT_TRUE(patch.has_value());
  const json& list = (*patch)["status"]["conditions"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["type"], "Synced");  // untouched
  EXPECT_EQ(list[0]["reason"], "R");
  EXPECT_EQ(list[1]["type"], "Ready");
  EXPECT_EQ(list[1]["reason"], "MissingRoleAssignment");
}

TEST(ConditionPatch, MalformedStatusIsReplacedNotTrusted) {
  json obj = identity_with(nullptr);
  obj["status"] = "garbage";
  auto patch = condition_patch(obj, kNotReady, kT0);
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ((*patch)["status"]["conditions"].size(), 1u);
  obj["status"] = {{"conditions", "not a list"}};
  EXPECT_EQ((*condition_patch(obj, kNotReady, kT0))["status"]["conditions"].size(), 1u);
}

}  // namespace
}  // namespace podid::controller::kube
