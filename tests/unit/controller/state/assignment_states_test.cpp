// SPDX-License-Identifier: Apache-2.0
#include "controller/state/assignment_states.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using State = crd::AssignedState;
using Kind = StateChange::Kind;

const std::string kPool1 = vmss_key("pool1");
const std::string kPool2 = vmss_key("pool2");

// ARM reports ids lower-cased; users write them as they like.
std::string arm_spelling(const std::string& name) { return arm::canonical_key(resource_id(name)); }

PlanItem item(const std::string& name, const std::string& compute, const std::string& rid, State state,
              const DesiredAssignment* desired = nullptr) {
  PlanItem i;
  i.ns = "default";
  i.name = name;
  i.compute_key = compute;
  i.identity_resource_id = rid;
  i.state = state;
  i.desired = desired;
  return i;
}

// "name kind write [error]" per change, in order.
std::vector<std::string> describe(const std::vector<StateChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    const char* kind = c.kind == Kind::kAssigned ? "Assigned" : c.kind == Kind::kCreated ? "Created" : "Remove";
    out.push_back(c.item->name + " " + kind + (c.write_status ? " write" : " -"));
  }
  return out;
}

ComputeObservation observed(std::vector<std::string> present, std::vector<std::string> removable = {}) {
  ComputeObservation o;
  o.observed = true;
  o.present = std::move(present);
  o.removable = std::move(removable);
  return o;
}

TEST(SettleStates, ServicePrincipalsAreAssignedAtOnceEvenWhenNothingWasObserved) {
  AssignmentPlan plan;
  plan.create.push_back(item("sp-new", kPool1, "", State::kCreated));
  plan.keep.push_back(item("sp-done", kPool1, "", State::kAssigned));
  auto changes = settle_states(plan, kPool1, ComputeObservation{});
  EXPECT_THAT(describe(changes), ElementsAre("sp-new Assigned write"));
  EXPECT_EQ(changes[0].item, &plan.create[0]);
}

TEST(SettleStates, UserAssignedIsAssignedWhenOnTheComputeIgnoringCase) {
  AssignmentPlan plan;
  plan.create.push_back(item("new", kPool1, resource_id("A"), State::kCreated));
  plan.update.push_back(item("legacy", kPool1, resource_id("b"), State::kNone));
  plan.keep.push_back(item("done", kPool1, resource_id("a"), State::kAssigned));
  auto changes = settle_states(plan, kPool1, observed({arm_spelling("a"), arm_spelling("b")}));
  EXPECT_THAT(describe(changes), ElementsAre("new Assigned write", "legacy Assigned write"));
}

TEST(SettleStates, SetAsideIdStaysCreatedWithArmsMessage) {
  AssignmentPlan plan;
  plan.create.push_back(item("new", kPool1, resource_id("norole"), State::kCreated));
  plan.keep.push_back(item("waiting", kPool1, resource_id("norole"), State::kCreated));
  plan.keep.push_back(item("fine", kPool1, resource_id("ok"), State::kCreated));
  auto obs = observed({arm_spelling("ok")});
  obs.set_aside[arm_spelling("NoRole")] = "LinkedAuthorizationFailed: grant Managed Identity Operator on norole";
  auto changes = settle_states(plan, kPool1, obs);
  ASSERT_THAT(describe(changes), ElementsAre("new Created -", "waiting Created -", "fine Assigned write"));
  EXPECT_THAT(changes[0].error, HasSubstr("Managed Identity Operator"));
  EXPECT_EQ(changes[1].error, changes[0].error);
  EXPECT_EQ(changes[2].error, "");
}

TEST(SettleStates, AbsentIdReportsTheRoundErrorElseAGenericOne) {
  AssignmentPlan plan;
  plan.create.push_back(item("new", kPool1, resource_id("a"), State::kCreated));
  auto obs = observed({});
  obs.error = "AuthorizationFailed on the scale set";
  auto with_error = settle_states(plan, kPool1, obs);
  ASSERT_EQ(with_error.size(), 1u);
  EXPECT_EQ(with_error[0].error, "AuthorizationFailed on the scale set");

  auto without = settle_states(plan, kPool1, observed({}));
  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(without[0].kind, Kind::kCreated);
  EXPECT_THAT(without[0].error, HasSubstr("not on " + kPool1));
}

TEST(SettleStates, AssignedButGoneFromTheComputeGoesBackToCreated) {
  AssignmentPlan plan;
  plan.keep.push_back(item("was-assigned", kPool1, resource_id("a"), State::kAssigned));
  plan.keep.push_back(item("legacy", kPool1, resource_id("a"), State::kNone));
  auto changes = settle_states(plan, kPool1, observed({arm_spelling("other")}));
  EXPECT_THAT(describe(changes), ElementsAre("was-assigned Created write", "legacy Created write"));
}

TEST(SettleStates, NothingObservedLeavesAssignedAloneAndReportsTheRest) {
  AssignmentPlan plan;
  plan.keep.push_back(item("assigned", kPool1, resource_id("a"), State::kAssigned));
  plan.keep.push_back(item("legacy", kPool1, resource_id("a"), State::kNone));
  plan.keep.push_back(item("created", kPool1, resource_id("a"), State::kCreated));
  plan.update.push_back(item("unassigned", kPool1, resource_id("a"), State::kUnassigned));
  ComputeObservation nothing;
  nothing.error = "throttled: retry after 30s";
  auto changes = settle_states(plan, kPool1, nothing);
  ASSERT_THAT(describe(changes), ElementsAre("unassigned Created write", "created Created -"));
  EXPECT_EQ(changes[0].error, "throttled: retry after 30s");
  EXPECT_EQ(changes[1].error, "throttled: retry after 30s");

  auto silent = settle_states(plan, kPool1, ComputeObservation{});
  ASSERT_EQ(silent.size(), 2u);
  EXPECT_THAT(silent[0].error, HasSubstr("learned nothing"));
}

TEST(SettleStates, NoComputeNeverAssignsUserAssigned) {
  World w;
  w.node("kind-node", "kind://docker/kind/worker").pod({.node = "kind-node"}).bound_identity("app", "id-a");
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  AssignmentPlan plan;
  plan.create.push_back(item("ua", "", resource_id("a"), State::kCreated, &s.assignments[0]));
  plan.create.push_back(item("sp", "", "", State::kCreated));
  auto changes = settle_states(plan, "", observed({arm_spelling("a")}));
  ASSERT_THAT(describe(changes), ElementsAre("ua Created -", "sp Assigned write"));
  EXPECT_THAT(changes[0].error, HasSubstr("node kind-node"));
}

TEST(SettleStates, OnlyTheSettledComputesItems) {
  AssignmentPlan plan;
  plan.create.push_back(item("on-1", kPool1, resource_id("a"), State::kCreated));
  plan.create.push_back(item("on-2", kPool2, resource_id("a"), State::kCreated));
  plan.remove.push_back(item("gone-2", kPool2, "", State::kAssigned));
  auto changes = settle_states(plan, kPool1, observed({arm_spelling("a")}));
  EXPECT_THAT(describe(changes), ElementsAre("on-1 Assigned write"));
}

TEST(SettleStates, RemovalGoesWhenNothingNeedsToHappenInAzure) {
  AssignmentPlan plan;
  plan.keep.push_back(item("stays", kPool1, resource_id("shared"), State::kAssigned));
  plan.remove.push_back(item("sp", kPool1, "", State::kAssigned));
  plan.remove.push_back(item("still-needed", kPool1, resource_id("SHARED"), State::kAssigned));
  plan.remove.push_back(item("pre-existing", kPool1, resource_id("theirs"), State::kAssigned));
  plan.remove.push_back(item("removed", kPool1, resource_id("mine-gone"), State::kAssigned));
  plan.remove.push_back(item("waits", kPool1, resource_id("mine-present"), State::kAssigned));
  plan.remove.push_back(item("half-done", kPool1, "", State::kUnassigned));
  auto obs = observed({arm_spelling("shared"), arm_spelling("theirs"), arm_spelling("mine-present")},
                      {resource_id("shared"), resource_id("mine-gone"), resource_id("mine-present")});
  auto changes = settle_states(plan, kPool1, obs);
  EXPECT_THAT(describe(changes),
              ElementsAre("sp Remove write", "still-needed Remove write", "pre-existing Remove write",
                          "removed Remove write", "half-done Remove -"));
}

TEST(SettleStates, RemovalWaitsWhenNothingWasObserved) {
  AssignmentPlan plan;
  plan.remove.push_back(item("mine", kPool1, resource_id("a"), State::kAssigned));
  plan.remove.push_back(item("theirs", kPool1, resource_id("b"), State::kAssigned));
  ComputeObservation nothing;
  nothing.removable = {resource_id("a")};
  EXPECT_THAT(describe(settle_states(plan, kPool1, nothing)), ElementsAre("theirs Remove write"));
}

TEST(SettleStates, NeededOnAnotherComputeDoesNotCount) {
  AssignmentPlan plan;
  plan.keep.push_back(item("elsewhere", kPool2, resource_id("a"), State::kAssigned));
  plan.remove.push_back(item("mine", kPool1, resource_id("a"), State::kAssigned));
  auto changes = settle_states(plan, kPool1, observed({arm_spelling("a")}, {resource_id("a")}));
  EXPECT_THAT(changes, IsEmpty());
}

TEST(SettleStates, RemovalWithoutComputeGoesAtOnce) {
  AssignmentPlan plan;
  plan.remove.push_back(item("node-gone", "", resource_id("a"), State::kAssigned));
  ComputeObservation nothing;
  nothing.removable = {resource_id("a")};
  EXPECT_THAT(describe(settle_states(plan, "", nothing)), ElementsAre("node-gone Remove write"));
}

TEST(SettleStates, RemovalOfAnImmutableIdNeverWaits) {
  // The caller leaves immutable ids out of `removable`: the round will never remove them, so waiting for
  // their absence would keep the AAI forever.
  AssignmentPlan plan;
  plan.remove.push_back(item("immutable", kPool1, resource_id("cluster-id"), State::kAssigned));
  auto changes = settle_states(plan, kPool1, observed({arm_spelling("cluster-id")}, {}));
  EXPECT_THAT(describe(changes), ElementsAre("immutable Remove write"));
}

}  // namespace
}  // namespace podid::controller
