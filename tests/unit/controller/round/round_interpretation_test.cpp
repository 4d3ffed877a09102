// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round_interpretation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/round/event_aggregator.h"
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

// The caches holding a World and some existing AAIs; slices of it are what rounds read.
struct Caches {
  DesiredIndex desired;
  AssignedIndex assigned;

  ComputeSlice slice(const std::string& key, const std::vector<std::string>& immutable_client_ids = {}) const {
    return make_compute_slice(desired, assigned, key, immutable_client_ids);
  }
};

std::unique_ptr<Caches> caches_of(const World& w, const AssignedRecords& existing = {}) {
  auto c = std::make_unique<Caches>();
  for (const auto& [node, provider_id] : w.snapshot.node_provider_ids) c->desired.upsert_node({node, provider_id});
  for (const auto& id : w.snapshot.identities) c->desired.upsert_identity(id);
  for (const auto& b : w.snapshot.bindings) c->desired.upsert_binding(b);
  for (const auto& p : w.snapshot.pods) c->desired.upsert_pod(p);
  for (const auto& e : existing) c->assigned.upsert(e);
  return c;
}

// An existing AAI as the API server holds it after podid wrote it in `state`.
std::shared_ptr<const AssignedRecord> existing_aai(const DesiredAssignment& a, std::string_view state) {
  json o = build_assigned_identity(a, state);
  o["metadata"]["resourceVersion"] = "42";
  return existing_record(o);
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

std::vector<std::string> describe(const AssignedIdentitySteps& plan) {
  static const char* kWrites[] = {"none", "create", "replace", "set-state", "remove", "finalize"};
  const auto& steps = plan.steps;
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
  auto c = caches_of(w);
  auto target = plan_sync(c->slice(kPool1, {ascii::lowered(kCidA)}), {}, {ascii::lowered(kCidA)});
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
  auto c = caches_of(w);
  RoundMemory memory;
  memory.ledger_computes.emplace(vmss_key("gone"), compute_id("gone"));
  auto target = plan_sync(c->slice(vmss_key("gone")), memory, {});
  ASSERT_TRUE(target);
  EXPECT_THAT(target->desired, IsEmpty());
  EXPECT_FALSE(plan_sync(c->slice(vmss_key("unknown")), memory, {}));
  EXPECT_EQ(compute_name(vmss_key("unknown"), std::nullopt), vmss_key("unknown"));
  EXPECT_FALSE(plan_sync(c->slice(""), memory, {}));
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
  auto c = caches_of(w);
  const ComputeSlice slice = c->slice(kPool1);
  ComputeObservation seen{.observed = true, .present = {arm::canonical_key(resource_id("id-a"))}};
  auto plan = plan_assigned_identity_steps(slice, seen);
  EXPECT_THAT(describe(plan),
              ElementsAre("web-0-app-id-a create Assigned applied", "web-1-app-id-a create Assigned applied"));
  EXPECT_THAT(plan.batches, IsEmpty());
  json o = assigned_identity_to_write(plan.steps[0]);
  EXPECT_EQ(o["status"], (json{{"status", "Assigned"}, {"availableReplicas", 1}}));
  EXPECT_EQ(o["metadata"]["labels"]["nodename"], "node-1");
  EXPECT_EQ(o["metadata"]["labels"]["podid.io/pod-uid"], "uid-app-web-0");
  EXPECT_EQ(plan.steps[0].binding_key, "app/id-a-binding");
  ASSERT_TRUE(plan.steps[0].binding);
  EXPECT_EQ(plan.steps[0].binding->kind, "AzureIdentityBinding");
}

TEST(AssignedIdentitySteps, RefusedIdentityIsCreatedCreatedWithArmsReason) {
  World w = two_pools();
  auto c = caches_of(w);
  ComputeObservation seen{.observed = true, .set_aside = {{resource_id("id-a"), "no role"}}};
  auto plan = plan_assigned_identity_steps(c->slice(kPool1), seen);
  EXPECT_THAT(describe(plan),
              ElementsAre("web-0-app-id-a create Created error", "web-1-app-id-a create Created error"));
  EXPECT_EQ(plan.steps[0].error, "no role");
}

TEST(AssignedIdentitySteps, KeptAssignmentsAreWrittenOnlyWhenTheirStateChanges) {
  World w = two_pools();
  auto desired = w.desired();
  AssignedRecords existing = {existing_aai(desired.assignments[0], kStateCreated),
                              existing_aai(desired.assignments[1], kStateAssigned)};
  ASSERT_EQ(existing[0]->name, "api-0-app-id-b");
  auto c = caches_of(w, existing);
  // pool2 holds id-b: the Created one becomes Assigned with one status write.
  ComputeObservation seen{.observed = true, .present = {resource_id("id-b")}};
  EXPECT_THAT(describe(plan_assigned_identity_steps(c->slice(kPool2), seen)),
              ElementsAre("api-0-app-id-b set-state Assigned applied"));
  // pool1 lost id-a: the Assigned one goes back to Created (the agent must stop serving it), the new one waits.
  ComputeObservation lost{.observed = true};
  EXPECT_THAT(describe(plan_assigned_identity_steps(c->slice(kPool1), lost)),
              ElementsAre("web-1-app-id-a create Created error", "web-0-app-id-a set-state Created error"));
}

// pool2's api-0 and api-1 are gone; their AAIs stay until id-b is off pool2.
std::unique_ptr<Caches> api_pods_gone(AssignedRecords* existing_out = nullptr) {
  World before = two_pools();
  before.pod({.name = "api-1", .selector = "api", .node = "node-2"});
  auto desired = before.desired();
  AssignedRecords existing;
  for (const auto& a : desired.assignments) {
    if (a.pod.starts_with("api")) existing.push_back(existing_aai(a, kStateAssigned));
  }
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).node("node-2", vmss_instance("pool2", 0));
  w.bound_identity("app", "id-a", "web").bound_identity("app", "id-b", "api");
  if (existing_out) *existing_out = existing;
  return caches_of(w, existing);
}

TEST(AssignedIdentitySteps, TheAssignmentsOfGonePodsGoInOneRequestThenOneWriteEach) {
  auto c = api_pods_gone();
  const ComputeSlice slice = c->slice(kPool2);
  ComputeObservation still_there{
      .observed = true, .present = {resource_id("id-b")}, .removable = {resource_id("id-b")}};
  EXPECT_THAT(describe(plan_assigned_identity_steps(slice, still_there)), IsEmpty());  // waits for ARM
  ComputeObservation off{.observed = true, .removable = {resource_id("id-b")}};
  auto plan = plan_assigned_identity_steps(slice, off);
  EXPECT_THAT(describe(plan), ElementsAre("api-0-app-id-b finalize", "api-1-app-id-b finalize"));
  ASSERT_EQ(plan.batches.size(), 1u);
  EXPECT_EQ(plan.batches[0].ns, "default");
  EXPECT_THAT(plan.batches[0].pod_uids, ElementsAre("uid-app-api-0", "uid-app-api-1"));
  EXPECT_EQ(plan.steps[0].batch, 0u);
  EXPECT_EQ(plan.steps[0].binding_key, "app/id-b-binding");  // from the copy the AAI embeds
}

TEST(AssignedIdentitySteps, AnAssignmentWhosePodKeepsOthersIsRemovedAlone) {
  AssignedRecords existing;
  auto c = api_pods_gone(&existing);
  // A third AAI carries api-0's uid and stays (it stands for another compute): no request by that uid.
  World w = two_pools();
  json other = build_assigned_identity(w.desired().assignments[0], kStateAssigned);
  ASSERT_EQ(other["metadata"]["labels"]["podid.io/pod-uid"], "uid-app-api-0");
  other["metadata"]["name"] = "api-0-app-id-x";
  other["metadata"]["annotations"]["podid.io/compute"] = kPool1;
  other["metadata"]["resourceVersion"] = "7";
  c->assigned.upsert(existing_record(other));
  ComputeObservation off{.observed = true, .removable = {resource_id("id-b")}};
  auto plan = plan_assigned_identity_steps(c->slice(kPool2), off);
  EXPECT_THAT(describe(plan), ElementsAre("api-0-app-id-b remove", "api-1-app-id-b finalize"));
  ASSERT_EQ(plan.batches.size(), 1u);
  EXPECT_THAT(plan.batches[0].pod_uids, ElementsAre("uid-app-api-1"));
  EXPECT_EQ(plan.steps[0].batch, std::nullopt);
}

TEST(AssignedIdentitySteps, AnAssignmentAlreadyBeingDeletedIsOnlyFinalized) {
  World w = two_pools();
  auto desired = w.desired();
  json o = build_assigned_identity(desired.assignments[0], kStateAssigned);  // api-0, still desired
  o["metadata"]["resourceVersion"] = "8";
  o["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";  // a user deleted it
  auto c = caches_of(w, {existing_record(o)});
  auto plan = plan_assigned_identity_steps(c->slice(kPool2), {.observed = true, .present = {resource_id("id-b")}});
  EXPECT_THAT(describe(plan), ElementsAre("api-0-app-id-b finalize"));  // created again once it is gone
  EXPECT_THAT(plan.batches, IsEmpty());
}

// --- Events ---------------------------------------------------------------------------------------------------
TEST(BindingEvents, TalliedPerBindingAndSummedOverTheWindow) {
  World w = two_pools();
  w.pod({.name = "api-1", .selector = "api", .node = "node-2"});
  auto c = caches_of(w);
  BindingTallies pool1, pool2;
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  for (const auto& step : plan_assigned_identity_steps(c->slice(kPool1), seen).steps) tally(pool1, step);
  ComputeObservation refused{.observed = true, .set_aside = {{resource_id("id-b"), "no role"}}};
  for (const auto& step : plan_assigned_identity_steps(c->slice(kPool2), refused).steps) tally(pool2, step);
  const ComputeSlice slice = c->slice(kPool1);
  AssignedIdentityStep anonymous{.write = Write::kRemove, .item = &slice.plan.create[0], .binding_key = "/"};
  tally(pool1, anonymous);  // an AAI that names no binding: counted nowhere visible
  EXPECT_EQ(pool1.at("app/id-a-binding").applied, 2u);
  EXPECT_THAT(pool2.at("app/id-b-binding").errors, ElementsAre("no role"));  // once, for both pods

  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  BindingEventAggregator events(std::chrono::seconds(30));
  EXPECT_THAT(events.add(pool1, "pool1", t0), IsEmpty());
  auto errors = events.add(pool2, "pool2", t0);  // errors are not held
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "binding apply error");
  EXPECT_EQ(errors[0].type, kube::EventType::kWarning);
  EXPECT_EQ(errors[0].message, "no role");
  EXPECT_THAT(events.add(pool1, "pool3", t0 + std::chrono::seconds(10)), IsEmpty());
  EXPECT_THAT(events.due(t0 + std::chrono::seconds(29)), IsEmpty());
  EXPECT_EQ(events.next_due(), t0 + std::chrono::seconds(30));
  auto due = events.due(t0 + std::chrono::seconds(30));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].object.name, "id-a-binding");
  EXPECT_EQ(due[0].reason, "binding applied");
  EXPECT_EQ(due[0].type, kube::EventType::kNormal);
  EXPECT_EQ(due[0].message, "identity assigned to 4 pod(s): 2 on pool1, 2 on pool3");
  EXPECT_THAT(events.due(t0 + std::chrono::hours(1)), IsEmpty());
  EXPECT_EQ(events.next_due(), std::nullopt);
}

TEST(BindingEvents, ANoWindowAggregatorSendsEachRoundsEventAtOnce) {
  World w = two_pools();
  auto c = caches_of(w);
  BindingTallies tallies;
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  for (const auto& step : plan_assigned_identity_steps(c->slice(kPool1), seen).steps) tally(tallies, step);
  BindingEventAggregator events(std::chrono::seconds(0));
  const auto now = std::chrono::steady_clock::time_point{};
  events.add(tallies, "pool1", now);
  auto due = events.due(now);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].message, "identity assigned to 2 pod(s) on pool1");
}

// --- conditions -----------------------------------------------------------------------------------------------
TEST(Conditions, IdentityRefusedOnOneComputeSaysWhyAndOnHowManyMore) {
  World w = two_pools();
  auto c = caches_of(w);
  RoundMemory memory;
  memory.identity_errors["app/id-a"][vmss_key("pool9")] = "Throttled\nround for pool9 ended throttled";
  SyncResult r = converged({}, {});
  r.status = SyncStatus::kPartial;
  r.set_aside.emplace(resource_id("id-a"), linked_authorization_failed(resource_id("id-a")));
  ComputeObservation seen{.observed = true, .set_aside = {{resource_id("id-a"), "no role on pool1"}}};
  auto plan = plan_conditions(c->slice(kPool1), seen, r, memory);
  ASSERT_EQ(plan.writes.size(), 2u);  // the identity, then its binding
  EXPECT_EQ(plan.writes[0].target, kube::ConditionTarget::kAzureIdentity);
  EXPECT_EQ(plan.writes[1].target, kube::ConditionTarget::kAzureIdentityBinding);
  const kube::Condition& cond = plan.writes[0].condition;
  EXPECT_EQ(cond.type, "Assigned");
  EXPECT_FALSE(cond.status);
  EXPECT_EQ(cond.reason, "LinkedAuthorizationFailed");  // the first compute by key: pool1 before pool9
  EXPECT_THAT(cond.message, HasSubstr("(and on 1 more)"));
  EXPECT_EQ(plan.identity_errors.at("app/id-a").size(), 2u);
  EXPECT_EQ(plan.identity_errors.count("app/id-b"), 0u);  // not on pool1: not this round's to judge
}

TEST(Conditions, AFederatedIdentitySaysItIsNeverOnAComputeAndWhatItNeeds) {
  World w = two_pools();
  w.identity({.name = "fed", .client_id = kCidB, .resource_id = resource_id("fed"), .federated = "true"})
      .binding({.ns = "app", .name = "fed-binding", .identity = "fed", .selector = "orders"})
      .pod({.name = "orders-0", .selector = "orders"});
  auto c = caches_of(w);
  RoundMemory memory;
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  auto plan = plan_conditions(c->slice(kPool1), seen, converged({resource_id("id-a")}, {}), memory);
  std::vector<const ConditionToWrite*> fed;
  for (const auto& wr : plan.writes) {
    if (wr.condition.reason == "Federated") fed.push_back(&wr);
  }
  ASSERT_EQ(fed.size(), 2u);  // the identity, then its binding
  EXPECT_EQ(fed[0]->target, kube::ConditionTarget::kAzureIdentity);
  EXPECT_EQ(fed[1]->target, kube::ConditionTarget::kAzureIdentityBinding);
  EXPECT_TRUE(fed[0]->condition.status);
  EXPECT_THAT(fed[0]->condition.message, HasSubstr("is federated"));
  EXPECT_THAT(fed[0]->condition.message, HasSubstr(kCidB));
  EXPECT_EQ(plan.identity_errors.count("app/fed"), 0u);  // never judged against a compute
}

TEST(Conditions, IdentityOnTheComputeClearsThatComputesError) {
  World w = two_pools();
  auto c = caches_of(w);
  RoundMemory memory;
  memory.identity_errors["app/id-a"][kPool1] = "LinkedAuthorizationFailed\nno role";
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  auto plan = plan_conditions(c->slice(kPool1), seen, converged({resource_id("id-a")}, {}), memory);
  ASSERT_EQ(plan.writes.size(), 2u);
  EXPECT_TRUE(plan.writes[0].condition.status);
  EXPECT_EQ(plan.writes[0].condition.reason, "Assigned");
  EXPECT_THAT(plan.identity_errors.at("app/id-a"), IsEmpty());  // the applier forgets the identity
}

TEST(Conditions, AConditionWrittenOnTheVersionTheCacheStillShowsIsNotWrittenAgain) {
  World w = two_pools();
  auto c = caches_of(w);
  const ComputeSlice slice = c->slice(kPool1);
  ComputeObservation seen{.observed = true, .present = {resource_id("id-a")}};
  RoundMemory memory;
  auto first = plan_conditions(slice, seen, converged({resource_id("id-a")}, {}), memory);
  ASSERT_EQ(first.writes.size(), 2u);
  for (const auto& wr : first.writes) {
    memory.conditions_written[condition_memory_key(wr.target, *wr.object)] =
        written_condition(*wr.object, wr.condition);
  }
  EXPECT_THAT(plan_conditions(slice, seen, converged({resource_id("id-a")}, {}), memory).writes, IsEmpty());
  // The write came back (a newer version of the object): compared with what it holds from then on.
  json newer = *slice.desired[0].identity->raw;
  newer["metadata"]["resourceVersion"] = "77";
  c->desired.upsert_identity(cached<crd::AzureIdentity>(newer, crd::parse_azure_identity));
  EXPECT_EQ(plan_conditions(c->slice(kPool1), seen, converged({resource_id("id-a")}, {}), memory).writes.size(), 1u);
}

}  // namespace
}  // namespace podid::controller
