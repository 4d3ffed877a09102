// SPDX-License-Identifier: Apache-2.0
//
// The contract at the top of selection.h, one table row per rule and per predecessor behaviour it keeps or
// deliberately changes. Every row: the objects in the store, the calling pod, what the request named, the
// policy, and the expected answer.
#include "agent/identity/selection.h"

#include <gtest/gtest.h>

#include "common/crd/crd_fixtures.h"
#include "podid/crd/workload_identity.h"

using namespace podid::agent;
using namespace podid::agent::testing;

namespace {

// What a row expects: "chosen ns/name" (and optionally which binding), "excepted", or a NoIdentity reason.
struct Expect {
  enum Kind { kChosen, kExcepted, kNo } kind;
  std::string identity;  // kChosen: "ns/name"
  NoIdentity::Reason reason = NoIdentity::kNoBinding;
  std::string binding;    // kChosen: "ns/name" when the row cares
  size_t unresolved = 0;  // kNo: how many unresolved principals
};

Expect chosen(std::string identity, std::string binding = "") {
  return {Expect::kChosen, std::move(identity), NoIdentity::kNoBinding, std::move(binding)};
}
Expect excepted() { return {Expect::kExcepted, ""}; }
Expect none(NoIdentity::Reason r, size_t unresolved = 0) { return {Expect::kNo, "", r, "", unresolved}; }

struct Row {
  std::string name;
  std::vector<json> identities, bindings, assigned, exceptions;
  PodInfo pod;
  IdentitySelector selector;
  SelectionPolicy policy;
  Expect expect;
  // Azure Workload Identity: the pod's label, and what its service account names ("" = not annotated).
  bool wi_requested = false;
  std::string wi_client_id;
};

// gtest prints a failing row by its name, not as bytes.
void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

const SelectionPolicy kStandard{};
const SelectionPolicy kManaged{.mode = Mode::kManaged};
const SelectionPolicy kForceNamespaced{.force_namespaced = true};
const SelectionPolicy kStrict{.strict_default = true};

PodInfo web() { return pod("app", "web", {{"aadpodidbinding", "web"}, {"tier", "front"}}); }
IdentitySelector any() { return {}; }
IdentitySelector client(std::string v) { return {SelectorKind::kClientId, std::move(v)}; }
IdentitySelector res(std::string v) { return {SelectorKind::kResourceId, std::move(v)}; }
IdentitySelector oid(std::string v) { return {SelectorKind::kObjectId, std::move(v)}; }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The usual world: identities id-a and id-b in "app", both bound to selector "web".
json id_a() { return identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("id-a")}); }
json id_b() { return identity_json({.name = "id-b", .client_id = kCidB, .resource_id = resource_id("id-b")}); }
json bind_a() { return binding_json({.name = "bind-a", .identity = "id-a"}); }
json bind_b() { return binding_json({.name = "bind-b", .identity = "id-b"}); }
json aai_a(std::string state = "Assigned") {
  return assigned_json({.identity = "id-a", .client_id = kCidA, .state = std::move(state)});
}
json aai_b(std::string state = "Assigned") {
  return assigned_json({.identity = "id-b", .client_id = kCidB, .state = std::move(state)});
}
// A federated identity bound like the others.
json id_f() { return identity_json({.name = "id-f", .client_id = kCidX, .resource_id = resource_id("id-f"), .federated = "true"}); }
json bind_f() { return binding_json({.name = "bind-f", .identity = "id-f"}); }
PodInfo wi_pod(Labels more = {}) {
  Labels labels{{"azure.workload.identity/use", "true"}};
  labels.insert(more.begin(), more.end());
  PodInfo p = pod("app", "wi", labels);
  p.service_account = "workload";
  return p;
}
const SelectionPolicy kFederatedOnly{.mode = Mode::kFederated};
const SelectionPolicy kNoFederated{.federated = false};
Row wi(std::string name, std::vector<json> ids, std::vector<json> binds, PodInfo p, IdentitySelector sel,
       SelectionPolicy policy, Expect expect, std::string client = kCidB) {
  return {std::move(name), std::move(ids), std::move(binds), {}, {}, std::move(p), std::move(sel), policy,
          std::move(expect), true, std::move(client)};
}

// One row per case reads as a table; the formatter would spread each row over nine lines.
// clang-format off
std::vector<Row> rows() {
  using R = NoIdentity;
  std::vector<Row> t;
  // --- Standard mode, no identity named.
  t.push_back({"StandardOneAssigned",
               {id_a()}, {bind_a()}, {aai_a()}, {}, web(), any(), kStandard, chosen("app/id-a", "app/bind-a")});
  t.push_back({"StandardLegacyNoStatusCountsAsAssigned",
               {id_a()}, {bind_a()}, {aai_a("")}, {}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"StandardCreatedIsNotAssignedYet",
               {id_a()}, {bind_a()}, {aai_a("Created")}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardUnassignedIsNotAssigned",
               {id_a()}, {bind_a()}, {aai_a("Unassigned")}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardUnknownStateIsNotAssigned",
               {id_a()}, {bind_a()}, {aai_a("Bogus")}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardNoAssignedIdentityYet",
               {id_a()}, {bind_a()}, {}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardClientIdChangedSinceAssignment",
               {identity_json({.name = "id-a", .client_id = kCidX})}, {bind_a()}, {aai_a()}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardAssignmentClientIdCaseIgnored",
               {id_a()}, {bind_a()}, {assigned_json({.identity = "id-a", .client_id = upper(kCidA)})}, {}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"StandardAssignmentForAnotherPodDoesNotCount",
               {id_a()}, {bind_a()}, {assigned_json({.pod = "db", .identity = "id-a", .client_id = kCidA})}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardAssignmentOnAnotherNodeDoesNotCount",
               {id_a()}, {bind_a()}, {assigned_json({.identity = "id-a", .client_id = kCidA, .node = "node-2"})}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"StandardAssignmentWithoutNodeCounts",
               {id_a()}, {bind_a()}, {assigned_json({.identity = "id-a", .client_id = kCidA, .node = ""})}, {}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"StandardAssignmentOfSameNameInOtherNamespace",
               {id_a()}, {bind_a()}, {assigned_json({.identity_ns = "ops", .identity = "id-a", .client_id = kCidA})}, {}, web(), any(), kStandard, none(R::kNotAssignedYet)});
  // --- Candidates.
  t.push_back({"NoLabelNoBinding",
               {id_a()}, {bind_a()}, {aai_a()}, {}, pod("app", "web", {}), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"EmptyLabelNoBinding",
               {id_a()}, {bind_a()}, {aai_a()}, {}, pod("app", "web", {{"aadpodidbinding", ""}}), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"SelectorIsCaseSensitive",
               {id_a()}, {bind_a()}, {aai_a()}, {}, pod("app", "web", {{"aadpodidbinding", "Web"}}), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"BindingToMissingIdentityIgnored",
               {id_b()}, {bind_a()}, {aai_a()}, {}, web(), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"BindingNamesIdentityInItsOwnNamespace",
               {identity_json({.ns = "ops", .name = "id-a", .client_id = kCidA})}, {bind_a()}, {aai_a()}, {}, web(), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"NoBindingsAtAll",
               {id_a()}, {}, {}, {}, web(), any(), kStandard, none(R::kNoBinding)});
  t.push_back(
      {"NothingAtAllWithClientIdIsNoBinding", {}, {}, {}, {}, web(), client(kCidA), kStandard, none(R::kNoBinding)});
  // --- Namespaces: cross-namespace bindings count by default, as in the predecessor's default mode.
  auto ops_id = identity_json({.ns = "ops", .name = "id-x", .client_id = kCidX});
  auto ops_id_ns = identity_json({.ns = "ops", .name = "id-x", .client_id = kCidX, .behavior = "Namespaced"});
  auto ops_bind = binding_json({.ns = "ops", .name = "bind-x", .identity = "id-x"});
  auto ops_aai = assigned_json({.identity_ns = "ops", .identity = "id-x", .client_id = kCidX});
  t.push_back({"CrossNamespaceBindingCountsByDefault",
               {ops_id}, {ops_bind}, {ops_aai}, {}, web(), any(), kStandard, chosen("ops/id-x", "ops/bind-x")});
  t.push_back({"CrossNamespaceBindingIgnoredWhenForceNamespaced",
               {ops_id}, {ops_bind}, {ops_aai}, {}, web(), any(), kForceNamespaced, none(R::kNoBinding)});
  t.push_back({"ForceNamespacedEmptyListWithClientIdDoesNotCrash",
               {ops_id}, {ops_bind}, {ops_aai}, {}, web(), client(kCidX), kForceNamespaced, none(R::kNoBinding)});
  t.push_back({"CrossNamespaceBindingIgnoredForNamespacedIdentity",
               {ops_id_ns}, {ops_bind}, {ops_aai}, {}, web(), any(), kStandard, none(R::kNoBinding)});
  t.push_back({"NamespacedIdentityServesItsOwnNamespace",
               {identity_json({.name = "id-a", .client_id = kCidA, .behavior = "namespaced"})}, {bind_a()}, {aai_a()}, {}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"ForceNamespacedKeepsOwnNamespace",
               {id_a(), ops_id}, {bind_a(), ops_bind}, {aai_a(), ops_aai}, {}, web(), any(), {.force_namespaced = true, .strict_default = true}, chosen("app/id-a")});
  // --- Several identities, none named.
  t.push_back({"DefaultIsFirstByNamespaceThenName",
               {id_b(), id_a()}, {binding_json({.name = "a-first-binding", .identity = "id-b"}), binding_json({.name = "z-last-binding", .identity = "id-a"})}, {aai_b(), aai_a()}, {}, web(), any(), kStandard, chosen("app/id-a", "app/z-last-binding")});
  t.push_back({"DefaultNamespaceOrdersBeforeName",
               {id_a(), ops_id}, {bind_a(), ops_bind}, {aai_a(), ops_aai}, {}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"StrictDefaultRefusesSeveral",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), any(), kStrict, none(R::kAmbiguous)});
  t.push_back({"StrictDefaultCountsOnlyServable",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a("Created"), aai_b()}, {}, web(), any(), kStrict, chosen("app/id-b")});
  t.push_back({"DefaultSkipsTheNotYetAssigned",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a("Created"), aai_b()}, {}, web(), any(), kStandard, chosen("app/id-b")});
  t.push_back({"StrictNamedIdentityIsNeverAmbiguous",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), client(kCidB), kStrict, chosen("app/id-b")});
  t.push_back({"TwoBindingsSameIdentityIsOneCandidate",
               {id_a()}, {binding_json({.name = "z", .identity = "id-a"}), binding_json({.name = "m", .identity = "id-a"})}, {aai_a()}, {}, web(), any(), kStrict, chosen("app/id-a", "app/m")});
  // --- Naming the identity: every kind, mis-cased.
  t.push_back({"ClientIdExact",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), client(kCidB), kStandard, chosen("app/id-b", "app/bind-b")});
  t.push_back({"ClientIdMisCased",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), client(upper(kCidB)), kStandard, chosen("app/id-b")});
  t.push_back({"ClientIdNotBound",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), client(kCidX), kStandard, none(R::kNoMatchForSelector)});
  t.push_back({"ClientIdBoundNotAssigned",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b("Created")}, {}, web(), client(kCidB), kStandard, none(R::kNotAssignedYet)});
  t.push_back({"ClientIdOfIdentityBoundToOthersOnly",
               {id_a(), id_b()}, {bind_a(), binding_json({.name = "bind-b", .identity = "id-b", .selector = "db"})}, {aai_a()}, {}, web(), client(kCidB), kStandard, none(R::kNoMatchForSelector)});
  t.push_back({"ResourceIdMisCased",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), res(upper(resource_id("id-b"))), kStandard, chosen("app/id-b")});
  t.push_back({"ResourceIdNotBound",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), res(resource_id("id-x")), kStandard, none(R::kNoMatchForSelector)});
  t.push_back({"ResourceIdNeverMatchesIdentityWithoutOne",
               {identity_json({.name = "id-a", .client_id = kCidA})}, {bind_a()}, {aai_a()}, {}, web(), res(""), kStandard, none(R::kNoMatchForSelector)});
  auto id_a_oid = identity_json({.name = "id-a", .client_id = kCidA, .principal = kOidA});
  auto id_b_oid = identity_json({.name = "id-b", .client_id = kCidB, .principal = kOidB});
  t.push_back({"ObjectIdMisCased",
               {id_a_oid, id_b_oid}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), oid(upper(kOidB)), kStandard, chosen("app/id-b")});
  t.push_back({"ObjectIdUnknownPrincipalsAreReported",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), oid(kOidB), kStandard, none(R::kNoMatchForSelector, 2)});
  t.push_back({"ObjectIdKnownMismatchPlusUnknown",
               {id_a_oid, id_b()}, {bind_a(), bind_b()}, {aai_a(), aai_b()}, {}, web(), oid(kOidB), kStandard, none(R::kNoMatchForSelector, 1)});
  t.push_back({"ObjectIdMatchNotAssigned",
               {id_a_oid}, {bind_a()}, {aai_a("Created")}, {}, web(), oid(kOidA), kStandard, none(R::kNotAssignedYet)});
  // --- Exceptions: same namespace only, any one label, value ignoring case; checked before anything else.
  t.push_back({"ExceptionMatchesValueIgnoringCase",
               {id_a()}, {bind_a()}, {aai_a()}, {exception_json("app", "ex", {{"tier", "FRONT"}})}, web(), any(), kStandard, excepted()});
  t.push_back({"ExceptionAnyOneLabel",
               {}, {}, {}, {exception_json("app", "ex", {{"nope", "x"}, {"tier", "front"}})}, web(), client(kCidA), kStandard, excepted()});
  t.push_back({"ExceptionOtherNamespaceIgnored",
               {id_a()}, {bind_a()}, {aai_a()}, {exception_json("kube-system", "ex", {{"tier", "front"}})}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"ExceptionValueMismatch",
               {id_a()}, {bind_a()}, {aai_a()}, {exception_json("app", "ex", {{"tier", "back"}})}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"ExceptionKeyIsCaseSensitive",
               {id_a()}, {bind_a()}, {aai_a()}, {exception_json("app", "ex", {{"Tier", "front"}})}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"ExceptionEmptyLabelsMatchNothing",
               {id_a()}, {bind_a()}, {aai_a()}, {exception_json("app", "ex", {})}, web(), any(), kStandard, chosen("app/id-a")});
  t.push_back({"ExceptionInManagedMode",
               {id_a()}, {bind_a()}, {}, {exception_json("app", "ex", {{"aadpodidbinding", "WEB"}})}, web(), any(), kManaged, excepted()});
  // --- Managed mode: no assignments, pod's namespace only.
  t.push_back({"ManagedNeedsNoAssignment",
               {id_a()}, {bind_a()}, {}, {}, web(), any(), kManaged, chosen("app/id-a")});
  t.push_back({"ManagedIgnoresAssignmentState",
               {id_a()}, {bind_a()}, {aai_a("Created")}, {}, web(), any(), kManaged, chosen("app/id-a")});
  t.push_back({"ManagedOnlyPodNamespace",
               {ops_id}, {ops_bind}, {}, {}, web(), any(), kManaged, none(R::kNoBinding)});
  t.push_back({"ManagedClientIdMisCased",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {}, {}, web(), client(upper(kCidB)), kManaged, chosen("app/id-b")});
  t.push_back({"ManagedResourceId",
               {id_a(), id_b()}, {bind_a(), bind_b()}, {}, {}, web(), res(resource_id("id-a")), kManaged, chosen("app/id-a")});
  t.push_back({"ManagedClientIdNotBound",
               {id_a()}, {bind_a()}, {}, {}, web(), client(kCidB), kManaged, none(R::kNoMatchForSelector)});
  t.push_back({"ManagedDeterministicDefault",
               {id_b(), id_a()}, {bind_b(), bind_a()}, {}, {}, web(), any(), kManaged, chosen("app/id-a")});
  t.push_back({"ManagedStrictAmbiguous",
               {id_b(), id_a()}, {bind_b(), bind_a()}, {}, {}, web(), any(), {.mode = Mode::kManaged, .strict_default = true}, none(R::kAmbiguous)});
  // --- Federated identities: served in every mode without an assignment, only with --federated.
  t.push_back({"FederatedNeedsNoAssignment",
               {id_f()}, {bind_f()}, {}, {}, web(), any(), kStandard, chosen("app/id-f", "app/bind-f")});
  t.push_back({"FederatedModeServesFederatedOnly",
               {id_a(), id_f()}, {bind_a(), bind_f()}, {aai_a()}, {}, web(), any(), kFederatedOnly, chosen("app/id-f")});
  t.push_back({"FederatedModeRefusesOthers",
               {id_a()}, {bind_a()}, {aai_a()}, {}, web(), any(), kFederatedOnly, none(R::kNoBinding)});
  t.push_back({"FederatedOffSkipsFederated",
               {id_f()}, {bind_f()}, {}, {}, web(), any(), kNoFederated, none(R::kNoBinding)});
  // --- Azure Workload Identity's conventions (rule 2b); the "wi" pod runs as service account app/workload.
  t.push_back(wi("WorkloadIdentityFromServiceAccount", {}, {}, wi_pod(), any(), kStandard, chosen("app/serviceaccount/workload")));
  t.push_back(wi("WorkloadIdentityAnyMode", {}, {}, wi_pod(), any(), kFederatedOnly, chosen("app/serviceaccount/workload")));
  t.push_back(wi("WorkloadIdentityNotAnnotated", {}, {}, wi_pod(), any(), kStandard, none(R::kServiceAccountNotAnnotated), ""));
  t.push_back(wi("WorkloadIdentityOff", {}, {}, wi_pod(), any(), kNoFederated, none(R::kNoBinding)));
  t.push_back(wi("WorkloadIdentityByClientId", {}, {}, wi_pod(), client(upper(kCidB)), kStandard, chosen("app/serviceaccount/workload")));
  t.push_back(wi("WorkloadIdentityOtherClientId", {}, {}, wi_pod(), client(kCidA), kStandard, none(R::kNoMatchForSelector)));
  // Both a binding and the label: the binding first; the service account's only when named.
  t.push_back(wi("BothBindingFirst", {id_f()}, {bind_f()}, wi_pod({{"aadpodidbinding", "web"}}), any(), kStandard, chosen("app/id-f")));
  t.push_back(wi("BothBindingNotAssignedYetWins", {id_a()}, {bind_a()}, wi_pod({{"aadpodidbinding", "web"}}), any(), kStandard, none(R::kNotAssignedYet)));
  t.push_back(wi("BothServiceAccountByClientId", {id_f()}, {bind_f()}, wi_pod({{"aadpodidbinding", "web"}}), client(kCidB), kStandard, chosen("app/serviceaccount/workload")));
  t.push_back(wi("BothStrictCountsOnlyTheBinding", {id_f()}, {bind_f()}, wi_pod({{"aadpodidbinding", "web"}}), any(), kStrict, chosen("app/id-f")));
  t.push_back(wi("LabelWithoutTrueIsIgnored", {}, {}, pod("app", "wi", {{"azure.workload.identity/use", "True"}}), any(), kStandard, none(R::kNoBinding)));
  // --- hostNetwork pods are not special here.
  t.push_back({"HostNetworkPodIsNotSpecial",
               {id_a()}, {bind_a()}, {aai_a()}, {}, pod("app", "web", {{"aadpodidbinding", "web"}}, true), any(), kStandard, chosen("app/id-a")});
  return t;
}
// clang-format on

class SelectionTable : public ::testing::TestWithParam<Row> {};

TEST_P(SelectionTable, Contract) {
  const Row& row = GetParam();
  IdentityStore store;
  store.replace_identities(row.identities);
  store.replace_bindings(row.bindings);
  store.replace_assigned_identities(row.assigned);
  store.replace_exceptions(row.exceptions);
  ASSERT_TRUE(store.rejected().empty()) << "fixture error: " << store.rejected()[0].error.message();

  std::optional<AzureIdentity> account;
  WorkloadIdentityClaim claim;
  if (row.wi_requested) {
    claim.requested = wants_workload_identity(row.pod);
    if (!row.wi_client_id.empty()) {
      account = workload_identity_of({.ns = row.pod.ns, .name = row.pod.service_account, .client_id = row.wi_client_id});
      claim.identity = &*account;
    }
  }
  auto got = select_identity(store, row.pod, row.selector, row.policy, claim);
  switch (row.expect.kind) {
    case Expect::kChosen: {
      auto* c = std::get_if<Chosen>(&got);
      ASSERT_NE(c, nullptr) << (std::holds_alternative<NoIdentity>(got)
                                    ? std::string("NoIdentity ") + to_string(std::get<NoIdentity>(got).reason) + ": " +
                                          std::get<NoIdentity>(got).detail
                                    : std::string("Excepted"));
      EXPECT_EQ(c->identity->ns + "/" + c->identity->name, row.expect.identity);
      if (is_service_account_identity(*c->identity)) {
        EXPECT_EQ(c->binding, nullptr);
        EXPECT_TRUE(c->identity->federated);
        break;
      }
      ASSERT_NE(c->binding, nullptr);
      EXPECT_EQ(c->binding->azure_identity, c->identity->name);
      if (!row.expect.binding.empty()) {
        EXPECT_EQ(c->binding->ns + "/" + c->binding->name, row.expect.binding);
      }
      break;
    }
    case Expect::kExcepted:
      EXPECT_TRUE(std::holds_alternative<Excepted>(got));
      break;
    case Expect::kNo: {
      auto* n = std::get_if<NoIdentity>(&got);
      ASSERT_NE(n, nullptr) << "got an identity or an exception";
      EXPECT_EQ(to_string(n->reason), std::string(to_string(row.expect.reason))) << n->detail;
      EXPECT_FALSE(n->detail.empty());
      EXPECT_EQ(n->unresolved_principals.size(), row.expect.unresolved);
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, SelectionTable, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

// object_id end to end: unresolved -> the caller learns the principal from a token -> selected.
TEST(SelectionFlow, ObjectIdResolvesAfterLearning) {
  IdentityStore store;
  store.replace_identities({id_a(), id_b()});
  store.replace_bindings({bind_a(), bind_b()});
  store.replace_assigned_identities({aai_a(), aai_b()});
  auto first = select_identity(store, web(), oid(kOidB), kStandard);
  ASSERT_TRUE(std::holds_alternative<NoIdentity>(first));
  for (const AzureIdentity* id : std::get<NoIdentity>(first).unresolved_principals) {
    store.learn_principal_id(id->client_id, id->name == "id-b" ? kOidB : kOidA);
  }
  auto second = select_identity(store, web(), oid(upper(kOidB)), kStandard);
  ASSERT_TRUE(std::holds_alternative<Chosen>(second));
  EXPECT_EQ(std::get<Chosen>(second).identity->name, "id-b");
}

// A watch moving an assignment from Created to Assigned, and an identity change un-assigning it.
TEST(SelectionFlow, FollowsWatchEvents) {
  IdentityStore store;
  store.replace_identities({id_a()});
  store.replace_bindings({bind_a()});
  store.replace_assigned_identities({aai_a("Created")});
  auto reason = [&] {
    auto got = select_identity(store, web(), any(), kStandard);
    return std::holds_alternative<Chosen>(got) ? std::string("chosen") : to_string(std::get<NoIdentity>(got).reason);
  };
  EXPECT_EQ(reason(), "not_assigned_yet");
  store.apply_assigned_identity(Change::kModified, aai_a("Assigned"));
  EXPECT_EQ(reason(), "chosen");
  store.apply_identity(Change::kModified, identity_json({.name = "id-a", .client_id = kCidX, .rv = "2"}));
  EXPECT_EQ(reason(), "not_assigned_yet");
  store.apply_binding(Change::kDeleted, bind_a());
  EXPECT_EQ(reason(), "no_binding");
}

}  // namespace
