// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round_interpretation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "podid/ascii.h"
#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Write = AssignedIdentityStep::Write;

const std::string kPool1 = vmss_key("pool1");
const std::string kPool2 = vmss_key("pool2");

arm::ResourceId compute_id(const std::string& vmss) { return arm::parse_provider_id(vmss_instance(vmss, 0)).value(); }

// Two pods on pool1 bound to id-a through one binding, one pod on pool2 bound to id-b.
World two_pools() {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).node("node-2", vmss_instance("pool2", 0));
  w.bound_identity("app", "id-a", "web").bound_identity("app", "id-b", "api");
  w.pod({.name = "web-0"}).pod({.name = "web-1"}).pod({.name = "api-0", .selector = "api", .node = "node-2"});
  return w;
}

std::shared_ptr<ClusterView> view_of(World& w, std::vector<Cached<crd::AzureAssignedIdentity>> existing = {}) {
  return make_cluster_view(w.snapshot, std::move(existing), {});
}

// An existing AAI as the API server holds it after podid wrote it in `state`.
Cached<crd::AzureAssignedIdentity> existing_aai(const DesiredAssignment& a, std::string_view state) {
  json o = build_assigned_identity(a, state);
  o["metadata"]["resourceVersion"] = "42";
  return cached<crd::AzureAssignedIdentity>(o, crd::parse_azure_assigned_identity);
}

SyncResult converged(std::vector<std::string> present, std::vector<std::string> ledger) {
  SyncResult r;
  r.identities = std::move(present);
  r.ledger = std::move(ledger);
  return r;
}

arm::ArmError linked_authorization_failed(const std::string& id) {
  arm::ArmError e;
  e.code = "LinkedAuthorizationFailed";
  e.principal = "principal-1";
  e.action = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
  e.scopes = {id};
  e.identities = {id};
  return e;
}

std::vector<std::string> describe(const std::vector<AssignedIdentityStep>& steps) {
  static const char* kWrites[] = {"none", "create", "replace", "set-state", "remove"};
  std::vector<std::string> out;
  for (const auto& s : steps) {
    out.push_back(s.item->name + " " + kWrites[static_cast<int>(s.write)] + (s.state.empty() ? "" : " " + s.state) +
                  (s.assigned ? " applied" : "") + (s.error.empty() ? "" : " error"));
  }
  return out;
}

// --- plan_sync ------------------------------------------------------------------------------------------------
TEST(PlanSync, DesiredComputeGetsItsIdentitiesAndTheImmutableOnes) {
  World w = two_pools();
  auto v = view_of(w);
  auto target = plan_sync(*v, kPool1, {}, {ascii::lowered(kCidA)});
  ASSERT_TRUE(target);
  EXPECT_EQ(target->compute.key(), kPool1);
  EXPECT_THAT(target->desired, ElementsAre(resource_id("id-a")));
  // bound_identity gives every identity kCidA: both are immutable by client id.
  EXPECT_THAT(target->immutable_ids, ElementsAre(resource_id("id-a"), resource_id("id-b")));
  EXPECT_THAT(target->immutable_client_ids, ElementsAre(ascii::lowered(kCidA)));
  EXPECT_EQ(compute_name(kPool1, target), target->compute.id());
}

TEST(PlanSync, ComputeOnlyTheLedgerNamesIsSyncedToNothing) {
  World w = two_pools();
  auto v = view_of(w);
  RoundMemory memory;
  memory.ledger_computes.emplace(vmss_key("gone"), compute_id("gone"));
  auto target = plan_sync(*v, vmss_key("gone"), memory, {});
  ASSERT_TRUE(target);
  EXPECT_THAT(target->desired, IsEmpty());
  EXPECT_FALSE(plan_sync(*v, vmss_key("unknown"), memory, {}));
  EXPECT_EQ(compute_name(vmss_key("unknown"), std::nullopt), vmss_key("unknown"));
  EXPECT_FALSE(plan_sync(*v, "", memory, {}));
  EXPECT_EQ(compute_name("", std::nullopt), "(no Azure VM)");
}

// --- interpret_sync -------------------------------------------------------------------------------------------
TEST(InterpretSync, ConvergedRoundObservesTheComputeAndRemembersItsLedger) {
  SyncTarget target{
      .compute = compute_id("pool1"), .desired = {resource_id("id-a")}, .immutable_ids = {resource_id("kubelet")}};
  auto m = interpret_sync(target, true, converged({resource_id("id-a")}, {resource_id("id-a"), resource_id("kubelet")}),
                          "pool1");
  EXPECT_TRUE(m.observation.observed);
  EXPECT_THAT(m.observation.present, ElementsAre(resource_id("id-a")));
  EXPECT_THAT(m.observation.removable, ElementsAre(resource_id("id-a")));  // never the immutable one
  EXPECT_EQ(m.observation.error, "");
  ASSERT_TRUE(m.applied);
  EXPECT_THAT(*m.applied, ElementsAre(arm::canonical_key(resource_id("id-a"))));
  EXPECT_EQ(m.ledger_compute, SyncInterpretation::LedgerCompute::kRemember);
  EXPECT_EQ(m.outcome.kind, Outcome::Kind::kSuccess);
  EXPECT_EQ(m.result_label, "ok");
}

TEST(InterpretSync, EmptyLedgerOnAComputeNoNodeIsOnIsForgotten) {
  SyncTarget target{.compute = compute_id("gone")};
  EXPECT_EQ(interpret_sync(target, false, converged({}, {}), "gone").ledger_compute,
            SyncInterpretation::LedgerCompute::kForget);
  EXPECT_EQ(interpret_sync(target, true, converged({}, {}), "gone").ledger_compute,
            SyncInterpretation::LedgerCompute::kUnchanged);
}

TEST(InterpretSync, GoneComputeHoldsNothingAndIsDone) {
  SyncResult r;
  r.status = SyncStatus::kGone;
  auto m = interpret_sync({.compute = compute_id("pool1"), .desired = {resource_id("id-a")}}, true, r, "pool1");
  EXPECT_TRUE(m.observation.observed);
  EXPECT_THAT(m.observation.present, IsEmpty());
  EXPECT_EQ(m.observation.error, "");
  EXPECT_TRUE(m.applied);
  EXPECT_EQ(m.outcome.kind, Outcome::Kind::kSuccess);
}

TEST(InterpretSync, ThrottledRoundObservesNothingAndWaitsAsArmAsked) {
  SyncResult r;
  r.status = SyncStatus::kThrottled;
  r.retry_after = std::chrono::seconds(17);
  auto m = interpret_sync({.compute = compute_id("pool1")}, true, r, "pool1");
  EXPECT_FALSE(m.observation.observed);
  EXPECT_THAT(m.observation.error, HasSubstr("ARM asked to wait 17 s"));
  EXPECT_FALSE(m.applied);
  EXPECT_EQ(m.outcome.kind, Outcome::Kind::kThrottled);
  EXPECT_EQ(m.outcome.retry_after, std::chrono::seconds(17));
  EXPECT_EQ(m.throttled_wait, std::chrono::seconds(17));
  EXPECT_EQ(m.result_label, "throttled");
}

TEST(InterpretSync, SetAsideIdentityIsExplainedWithTheRoleAndTheFix) {
  SyncResult r = converged({}, {});
  r.status = SyncStatus::kPartial;
  r.set_aside.emplace(resource_id("id-a"), linked_authorization_failed(resource_id("id-a")));
  auto m = interpret_sync({.compute = compute_id("pool1"), .desired = {resource_id("id-a")}}, true, r, "pool1");
  ASSERT_EQ(m.observation.set_aside.count(resource_id("id-a")), 1u);
  const std::string& why = m.observation.set_aside.at(resource_id("id-a"));
  EXPECT_THAT(why, HasSubstr("ARM refused the identity on pool1: LinkedAuthorizationFailed"));
  EXPECT_THAT(why, HasSubstr("principal principal-1"));
  EXPECT_THAT(why, HasSubstr("Fix: az role assignment create"));
  EXPECT_EQ(m.outcome.kind, Outcome::Kind::kFailure);  // retried with backoff
  EXPECT_EQ(m.result_label, "partial");
  EXPECT_TRUE(m.applied);
}

// --- AzureAssignedIdentity steps ------------------------------------------------------------------------------
TEST(AssignedIdentitySteps, NewAssignmentsAreCreatedAssignedOnceTheIdentityIsThere) {
  World w = two_pools();
  auto v = view_of(w);
  ComputeObservation seen{.observed = true, .present = {arm::canonical_key(resource_id("id-a"))}};
  auto steps = plan_assigned_identity_steps(*v, kPool1, seen);
  EXPECT_THAT(describe(steps),
              ElementsAre("web-0-app-id-a create Assigned applied", "web-1-app-id-a create Assigned applied"));
  json o = assigned_identity_to_write(steps[0]);
  EXPECT_EQ(o["status"], (json{{"status", "Assigned"}, {"availableReplicas", 1}}));
  EXPECT_EQ(o["metadata"]["labels"]["nodename"], "node-1");
  EXPECT_EQ(steps[0].binding_key, "app/id-a-binding");
  ASSERT_TRUE(steps[0].binding);
  EXPECT_EQ(steps[0].binding->kind, "AzureIdentityBinding");
}

TEST(AssignedIdentitySteps, RefusedIdentityIsCreatedCreatedWithArmsReason) {
  World w = two_pools();
  auto v = view_of(w);
  ComputeObservation seen{.observed = true, .set_aside = {{resource_id("id-a"), "no role"}}};
  auto steps = plan_assigned_identity_steps(*v, kPool1, seen);
  EXPECT_THAT(describe(steps),
              ElementsAre("web-0-app-id-a create Created error", "web-1-app-id-a create Created error"));
  EXPECT_EQ(steps[0].error, "no role");
}

TEST(AssignedIdentitySteps, KeptAssignmentsAreWrittenOnlyWhenTheirStateChanges) {
  World w = two_pools();
  auto desired = w.desired();
  std::vector<Cached<crd::AzureAssignedIdentity>> existing = {existing_aai(desired.assignments[0], kStateCreated),
                                                              existing_aai(desired.assignments[1], kStateAssigned)};
  ASSERT_EQ(existing[0].object.name, "api-0-app-id-b");
  auto v = view_of(w, existing);
  // pool2 holds id-b: the Created one becomes Assigned with one status write.
  ComputeObservation seen{.observed = true, .present = {resource_id("id-b")}};
  EXPECT_THAT(describe(plan_assigned_identity_steps(*v, kPool2, seen)),
              ElementsAre("api-0-app-id-b set-state Assigned applied"));
  // pool1 lost id-a: the Assigned one goes back to Created (the agent must stop serving it), the new one waits.
  ComputeObservation lost{.observed = true};
  EXPECT_THAT(describe(plan_assigned_identity_steps(*v, kPool1, lost)),
              ElementsAre("web-1-app-id-a create Created error", "web-0-app-id-a set-state Created error"));
}

TEST(AssignedIdentitySteps, AnAssignmentNoLongerNeededIsRemovedOnceTheIdentityIsOff) {
  World gone = two_pools();
  auto desired = gone.desired();
  std::vector<Cached<crd::AzureAssignedIdentity>> existing = {existing_aai(desired.assignments[0], kStateAssigned)};
  World w;  // api-0 deleted
  w.node("node-1", vmss_instance("pool1", 0)).node("node-2", vmss_instance("pool2", 0));
  w.bound_identity("app", "id-a", "web").bound_identity("app", "id-b", "api");
  auto v = view_of(w, existing);
  ComputeObservation still_there{
      .observed = true, .present = {resource_id("id-b")}, .removable = {resource_id("id-b")}};
  EXPECT_THAT(describe(plan_assigned_identity_steps(*v, kPool2, still_there)), IsEmpty());  // waits for ARM
  ComputeObservation off{.observed = true, .removable = {resource_id("id-b")}};
  auto steps = plan_assigned_identity_steps(*v, kPool2, off);
  EXPECT_THAT(describe(steps), ElementsAre("api-0-app-id-b remove"));
  EXPECT_EQ(steps[0].binding_key, "app/id-b-binding");  // from the copy the AAI embeds
}

// --- Events ---------------------------------------------------------------------------------------------------
TEST(BindingEvents, OnePerBindingAndKindNotOnePerPod) {
  World w = two_pools();
  auto v = view_of(w);
  BindingTallies tallies;
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  for (const auto& step : plan_assigned_identity_steps(*v, kPool1, seen)) tally(tallies, step);
  ComputeObservation refused{.observed = true, .set_aside = {{resource_id("id-b"), "no role"}}};
  for (const auto& step : plan_assigned_identity_steps(*v, kPool2, refused)) tally(tallies, step);
  AssignedIdentityStep anonymous{.write = Write::kRemove, .item = &v->plan.create[0], .binding_key = "/"};
  tally(tallies, anonymous);  // an AAI that names no binding: counted nowhere visible

  auto events = binding_events(tallies, "pool1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].object.name, "id-a-binding");
  EXPECT_EQ(events[0].reason, "binding applied");
  EXPECT_EQ(events[0].message, "identity assigned to 2 pod(s) on pool1");
  EXPECT_EQ(events[0].type, kube::EventType::kNormal);
  EXPECT_EQ(events[1].object.name, "id-b-binding");
  EXPECT_EQ(events[1].reason, "binding apply error");
  EXPECT_EQ(events[1].message, "no role");
  EXPECT_EQ(events[1].type, kube::EventType::kWarning);
}

// --- conditions -----------------------------------------------------------------------------------------------
TEST(Conditions, IdentityRefusedOnOneComputeSaysWhyAndOnHowManyMore) {
  World w = two_pools();
  auto v = view_of(w);
  RoundMemory memory;
  memory.identity_errors["app/id-a"][vmss_key("pool9")] = "Throttled\nround for pool9 ended throttled";
  SyncResult r = converged({}, {});
  r.status = SyncStatus::kPartial;
  r.set_aside.emplace(resource_id("id-a"), linked_authorization_failed(resource_id("id-a")));
  ComputeObservation seen{.observed = true, .set_aside = {{resource_id("id-a"), "no role on pool1"}}};
  auto plan = plan_conditions(*v, kPool1, seen, r, memory);
  ASSERT_EQ(plan.writes.size(), 2u);  // the identity, then its binding
  EXPECT_EQ(plan.writes[0].target, kube::ConditionTarget::kAzureIdentity);
  EXPECT_EQ(plan.writes[1].target, kube::ConditionTarget::kAzureIdentityBinding);
  const kube::Condition& c = plan.writes[0].condition;
  EXPECT_EQ(c.type, "Assigned");
  EXPECT_FALSE(c.status);
  EXPECT_EQ(c.reason, "LinkedAuthorizationFailed");  // the first compute by key: pool1 before pool9
  EXPECT_THAT(c.message, HasSubstr("(and on 1 more)"));
  EXPECT_EQ(plan.identity_errors.at("app/id-a").size(), 2u);
  EXPECT_EQ(plan.identity_errors.count("app/id-b"), 0u);  // not on pool1: not this round's to judge
}

TEST(Conditions, IdentityOnTheComputeClearsThatComputesError) {
  World w = two_pools();
  auto v = view_of(w);
  RoundMemory memory;
  memory.identity_errors["app/id-a"][kPool1] = "LinkedAuthorizationFailed\nno role";
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  auto plan = plan_conditions(*v, kPool1, seen, converged({resource_id("id-a")}, {}), memory);
  ASSERT_EQ(plan.writes.size(), 2u);
  EXPECT_TRUE(plan.writes[0].condition.status);
  EXPECT_EQ(plan.writes[0].condition.reason, "Assigned");
  EXPECT_THAT(plan.identity_errors.at("app/id-a"), IsEmpty());  // the applier forgets the identity
}

}  // namespace
}  // namespace podid::controller
