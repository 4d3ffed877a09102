// SPDX-License-Identifier: Apache-2.0
// One compute's share of the cluster, and the AzureAssignedIdentity records it is made of.
#include "controller/state/compute_slice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podid/ascii.h"
#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kPool1 = vmss_key("pool1");
const std::string kPool2 = vmss_key("pool2");

struct Caches {
  DesiredIndex desired;
  AssignedIndex assigned;
};

// web-0 and web-1 on pool1 (id-a), api-0 on pool2 (id-b); kCidB is declared immutable in some tests.
void fill(Caches& c) {
  c.desired.upsert_node({"node-1", vmss_instance("pool1", 0)});
  c.desired.upsert_node({"node-2", vmss_instance("pool2", 0)});
  c.desired.upsert_identity(cached<crd::AzureIdentity>(
      identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a")}), crd::parse_azure_identity));
  c.desired.upsert_identity(cached<crd::AzureIdentity>(
      identity_json({.name = "id-b", .client_id = kCidB, .resource_id = resource_id("b")}), crd::parse_azure_identity));
  c.desired.upsert_binding(cached<crd::AzureIdentityBinding>(binding_json({.name = "web", .identity = "id-a"}),
                                                             crd::parse_azure_identity_binding));
  c.desired.upsert_binding(cached<crd::AzureIdentityBinding>(
      binding_json({.name = "api", .identity = "id-b", .selector = "api"}), crd::parse_azure_identity_binding));
  c.desired.upsert_pod(pod_of(pod_json({.name = "web-0"})));
  c.desired.upsert_pod(pod_of(pod_json({.name = "web-1"})));
  c.desired.upsert_pod(pod_of(pod_json({.name = "api-0", .selector = "api", .node = "node-2"})));
}

std::shared_ptr<const AssignedRecord> written(const DesiredAssignment& a, std::string_view state,
                                              const std::string& rv = "10") {
  json o = build_assigned_identity(a, state);
  o["metadata"]["resourceVersion"] = rv;
  return existing_record(o);
}

std::vector<std::string> names(const AssignedRecords& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r->name);
  return out;
}

TEST(ComputeSlice, HoldsOneComputesDesiredStateAndTheAaisItsRoundWeighs) {
  Caches c;
  fill(c);
  auto web0 = *c.desired.assignment({"default", "web-0-app-id-a"});
  auto api0 = *c.desired.assignment({"default", "api-0-app-id-b"});
  c.assigned.upsert(written(web0, kStateAssigned));
  c.assigned.upsert(written(api0, kStateAssigned));
  // Gone pods' AAIs naming pool1, and the predecessor's (no compute named) on pool1's node and on an unknown one.
  DesiredAssignment gone = web0;
  gone.name = "gone-app-id-a";
  gone.pod = "gone";
  gone.pod_uid = "uid-app-gone";
  c.assigned.upsert(written(gone, kStateAssigned));
  json theirs = assigned_json({.pod = "old", .identity = "id-a", .client_id = kCidA, .node = "node-1"});
  c.assigned.upsert(existing_record(theirs));
  json lost = assigned_json({.pod = "older", .identity = "id-a", .client_id = kCidA, .node = "node-gone"});
  c.assigned.upsert(existing_record(lost));

  ComputeSlice s = make_compute_slice(c.desired, c.assigned, kPool1, {ascii::lowered(kCidB)});
  EXPECT_EQ(s.key, kPool1);
  ASSERT_TRUE(s.need);
  EXPECT_THAT(s.need->identity_ids, ElementsAre(resource_id("a")));
  ASSERT_EQ(s.desired.size(), 2u);
  EXPECT_EQ(s.desired[0].name, "web-0-app-id-a");
  EXPECT_THAT(names(s.existing), ElementsAre("web-0-app-id-a", "gone-app-id-a", "old-app-id-a"));
  EXPECT_EQ(s.plan.keep.size(), 1u);
  EXPECT_EQ(s.plan.create.size(), 1u);  // web-1
  EXPECT_EQ(s.plan.remove.size(), 2u);
  EXPECT_THAT(s.immutable_ids, ElementsAre(resource_id("b")));
  // gone's pod is not in the cluster: its uid's AAIs may go in one request (one of them exists).
  EXPECT_EQ(s.gone_pod_aais.size(), 1u);
  EXPECT_EQ(s.gone_pod_aais.at({"default", "uid-app-gone"}), 1u);
  EXPECT_TRUE(has_pending_assignments(s));

  ComputeSlice none = make_compute_slice(c.desired, c.assigned, "", {});
  EXPECT_THAT(names(none.existing), ElementsAre("older-app-id-a"));  // its node is no Azure VM any more
  EXPECT_FALSE(none.need);
}

TEST(ComputeSlice, NothingPendingOnceEveryAaiIsAssigned) {
  Caches c;
  fill(c);
  ComputeSlice before = make_compute_slice(c.desired, c.assigned, kPool2, {});
  EXPECT_TRUE(has_pending_assignments(before));  // api-0's AAI to create
  c.assigned.upsert(written(*c.desired.assignment({"default", "api-0-app-id-b"}), kStateCreated));
  EXPECT_TRUE(has_pending_assignments(make_compute_slice(c.desired, c.assigned, kPool2, {})));  // not Assigned
  c.assigned.upsert(written(*c.desired.assignment({"default", "api-0-app-id-b"}), kStateAssigned, "11"));
  EXPECT_FALSE(has_pending_assignments(make_compute_slice(c.desired, c.assigned, kPool2, {})));
}

// --- records ----------------------------------------------------------------------------------------------------
TEST(AssignedRecord, KeepsWhatRoundsReadAndADigestOfWhatThePlanCompares) {
  Caches c;
  fill(c);
  auto a = *c.desired.assignment({"default", "web-0-app-id-a"});
  json o = build_assigned_identity(a, kStateAssigned);
  o["metadata"]["resourceVersion"] = "10";
  o["metadata"]["finalizers"] = json::array({"x.example.com/other", std::string(kAssignedIdentityFinalizer)});
  o["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  auto r = existing_record(o);
  EXPECT_EQ(r->name, "web-0-app-id-a");
  EXPECT_EQ(text(r->compute), kPool1);
  EXPECT_EQ(r->pod_uid, "uid-app-web-0");
  EXPECT_EQ(r->state, crd::AssignedState::kAssigned);
  EXPECT_TRUE(r->deleting);
  EXPECT_EQ(r->finalizer, 1);
  EXPECT_TRUE(r->identity_parsed);
  EXPECT_EQ(text(r->identity_resource_id), resource_id("a"));
  EXPECT_EQ(r->binding_name, "web");
  ASSERT_TRUE(r->digest);
  EXPECT_EQ(*r->digest, assignment_digest(a));
  // Compute keys and identity ids are held once, however many records name them.
  auto again = existing_record(o);
  EXPECT_EQ(again->compute.get(), r->compute.get());
  EXPECT_EQ(again->identity_resource_id.get(), r->identity_resource_id.get());
  // What it states differs from another assignment's.
  EXPECT_NE(*r->digest, assignment_digest(*c.desired.assignment({"default", "web-1-app-id-a"})));
}

}  // namespace
}  // namespace podid::controller
