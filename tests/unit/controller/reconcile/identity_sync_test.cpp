// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/identity_sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fakes.h"

namespace podid::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::FakeArmClient;
using testing::FakeLedger;

constexpr const char* kVmssId =
    "/subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool";

// A UAMI id as a user writes it in an AzureIdentity ...
std::string uami(const std::string& name) {
  return "/subscriptions/sub-1/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}
// ... and as ARM often stores it.
std::string uami_arm(const std::string& name) {
  return "/subscriptions/sub-1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}
std::string client_id_of(const std::string& name) { return "c1d0" + name + "-0000-0000-0000-000000000000"; }

// Sorted canonical keys: compares id lists ignoring case and order.
std::vector<std::string> keys(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) out.push_back(arm::canonical_key(id));
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> names(std::initializer_list<const char*> n) {
  std::vector<std::string> out;
  for (const char* x : n) out.push_back(uami(x));
  return out;
}

class IdentitySyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vmss = arm::parse_resource_id(kVmssId).value();
    target.compute = vmss;
    for (const char* n : {"a", "b", "c", "d", "pre", "mine", "x", "y", "z"})
      arm.create_identity(uami(n), client_id_of(n));
  }

  SyncResult round() {
    asio::io_context io;
    std::optional<SyncResult> out;
    asio::co_spawn(io, sync_compute_identities(arm, ledger, target, options), [&](std::exception_ptr e, SyncResult r) {
      if (e) std::rethrow_exception(e);
      out = std::move(r);
    });
    io.run();
    EXPECT_TRUE(out.has_value()) << "round did not finish";
    return out.value_or(SyncResult{SyncStatus::kInvalid});
  }

  void record(std::vector<std::string> ids) { ledger.records[vmss.key()] = std::move(ids); }

  arm::ResourceId vmss;
  SyncTarget target;
  SyncOptions options;
  FakeArmClient arm;
  FakeLedger ledger;
};

TEST_F(IdentitySyncTest, NothingToDoIsOneGetAndNoPatch) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("a")});
  record({uami("a")});
  target.desired = {uami("A")};  // another case than ARM stores: still the same identity

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.gets, 1u);
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(arm.gets, 1u);
  EXPECT_EQ(arm.patches, 0u);
  EXPECT_EQ(ledger.stores, 0u);
  ASSERT_TRUE(r.identities);
  EXPECT_EQ(*r.identities, std::vector<std::string>{uami_arm("a")});  // ARM's spelling
  EXPECT_EQ(r.arm_calls, 1u);
}

TEST_F(IdentitySyncTest, AddsDesiredIdentitiesInOnePatchAndRecordsThem) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a", "b"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.gets, 1u);
  EXPECT_EQ(r.patches, 1u);
  EXPECT_EQ(r.arm_calls, 1u + 3u);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a", "b"})));
  EXPECT_EQ(keys(r.added), keys(names({"a", "b"})));
  EXPECT_TRUE(r.removed.empty());
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a", "b"})));
  EXPECT_EQ(ledger.stores, 1u);  // recorded before the PATCH; nothing to change after
  ASSERT_TRUE(r.ledger);
  EXPECT_EQ(keys(*r.ledger), keys(names({"a", "b"}))) << "the result carries the ledger as stored";
  ASSERT_TRUE(r.identities);
  EXPECT_EQ(keys(*r.identities), keys(names({"a", "b"})));
  EXPECT_EQ(arm.patch_bodies.at(0)["identity"]["type"], "UserAssigned");
}

TEST_F(IdentitySyncTest, RemovesOnlyIdsTheLedgerHolds) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("pre"), uami_arm("mine")});
  record({uami("mine")});
  target.desired = {};

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.patches, 1u);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"pre"})));
  EXPECT_EQ(keys(r.removed), keys(names({"mine"})));
  EXPECT_TRUE(ledger.ids(vmss).empty()) << "removed ids leave the ledger";
  ASSERT_TRUE(r.ledger);
  EXPECT_TRUE(r.ledger->empty());
}

TEST_F(IdentitySyncTest, PreExistingIdentityIsNeverRemovedEvenAfterBeingDesired) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("pre")});
  target.desired = names({"pre"});
  auto first = round();
  EXPECT_EQ(first.patches, 0u);
  EXPECT_TRUE(ledger.ids(vmss).empty()) << "present already: podid did not add it";

  target.desired = {};
  auto second = round();
  EXPECT_EQ(second.status, SyncStatus::kConverged);
  EXPECT_EQ(second.patches, 0u);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"pre"})));
}

TEST_F(IdentitySyncTest, ImmutableByResourceIdAndByClientIdAreNeverRemoved) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("x"), uami_arm("y"), uami_arm("z")});
  record(names({"x", "y", "z"}));
  target.immutable_ids = {uami("X")};
  std::string y_client = client_id_of("y");
  std::transform(y_client.begin(), y_client.end(), y_client.begin(), ::toupper);
  target.immutable_client_ids = {y_client};  // GUID case differs from ARM's

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"x", "y"})));
  EXPECT_EQ(keys(r.removed), keys(names({"z"})));
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"x", "y"})));
}

TEST_F(IdentitySyncTest, SystemAssignedIdentityIsKeptWhenTheLastUserAssignedGoes) {
  arm.put_compute(vmss, "SystemAssigned, UserAssigned", {uami_arm("mine")});
  record({uami("mine")});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_TRUE(arm.system_assigned(vmss));
  EXPECT_TRUE(arm.ids_on(vmss).empty());
  EXPECT_EQ(arm.patch_bodies.at(0), (nlohmann::json{{"identity", {{"type", "SystemAssigned"}}}}));
  ASSERT_TRUE(r.identities);
  EXPECT_TRUE(r.identities->empty());
}

TEST_F(IdentitySyncTest, SystemAssignedIdentityIsKeptOnAdd) {
  arm.put_compute(vmss, "SystemAssigned");
  target.desired = names({"a"});
  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_TRUE(arm.system_assigned(vmss));
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a"})));
}

TEST_F(IdentitySyncTest, OneHundredSixtyIdentitiesTakeTwoPatches) {
  arm.put_compute(vmss, "None");
  for (int i = 0; i < 160; ++i) {
    std::string id = uami("bulk-" + std::to_string(i));
    arm.create_identity(id, "client-" + std::to_string(i));
    target.desired.push_back(id);
  }
  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.patches, 2u);  // the fake refuses more than 150 entries per request, like ARM
  EXPECT_EQ(arm.ids_on(vmss).size(), 160u);
  EXPECT_EQ(r.added.size(), 160u);
  EXPECT_EQ(ledger.ids(vmss).size(), 160u);
}

TEST_F(IdentitySyncTest, IdentityWithoutRoleIsSetAsideWhileNineLandInTheSameRound) {
  arm.put_compute(vmss, "None");
  for (int i = 0; i < 10; ++i) {
    std::string id = uami("team-" + std::to_string(i));
    arm.create_identity(id, "client-" + std::to_string(i));
    target.desired.push_back(id);
  }
  const std::string no_role = uami("team-7");
  arm.deny_assign(no_role);
  std::vector<std::vector<std::string>> ledger_at_patch;
  arm.on_patch = [&](const nlohmann::json&) { ledger_at_patch.push_back(ledger.ids(vmss)); };

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kPartial);
  EXPECT_EQ(r.gets, 1u) << "a 403 changes nothing: the view from before it is current";
  EXPECT_EQ(r.patches, 2u);
  EXPECT_EQ(arm.ids_on(vmss).size(), 9u);
  EXPECT_EQ(r.added.size(), 9u);
  ASSERT_EQ(r.set_aside.size(), 1u);
  EXPECT_TRUE(arm::same_id(r.set_aside.begin()->first, no_role));
  const arm::ArmError& why = r.set_aside.begin()->second;
  EXPECT_EQ(why.code, "LinkedAuthorizationFailed");
  EXPECT_NE(why.remedy().find("Managed Identity Operator"), std::string::npos);
  EXPECT_FALSE(r.error.has_value()) << "the round itself did not fail";
  // Recorded before the first PATCH (all ten), and the one that never landed leaves the ledger after.
  ASSERT_EQ(ledger_at_patch.size(), 2u);
  EXPECT_EQ(ledger_at_patch[0].size(), 10u);
  EXPECT_EQ(ledger.ids(vmss).size(), 9u);
  for (const auto& id : ledger.ids(vmss)) EXPECT_FALSE(arm::same_id(id, no_role));
}

TEST_F(IdentitySyncTest, DeletedIdentityIsSetAsideAndTheRestLands) {
  arm.put_compute(vmss, "None");
  const std::string deleted = uami("deleted-in-azure");  // never created in the fake: ARM cannot find it
  target.desired = {uami("a"), deleted, uami("b")};

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kPartial);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a", "b"})));
  ASSERT_EQ(r.set_aside.size(), 1u);
  EXPECT_EQ(r.set_aside.begin()->first, deleted);
  EXPECT_EQ(r.set_aside.begin()->second.code, "FailedIdentityOperation");
  EXPECT_EQ(r.gets, 1u);
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a", "b"})));
}

TEST_F(IdentitySyncTest, SetAsideAfterAnAsyncFailureReadsTheComputeAgain) {
  arm.put_compute(vmss, "None");
  arm.identity_errors_async = true;
  target.desired = {uami("a"), uami("gone")};

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kPartial);
  EXPECT_EQ(r.gets, 2u) << "the failed operation may have changed the compute: one more GET";
  EXPECT_EQ(r.patches, 2u);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a"})));
}

TEST_F(IdentitySyncTest, SetAsideRetriesAreBoundedPerRound) {
  arm.put_compute(vmss, "None");
  target.desired = {uami("gone-1"), uami("gone-2"), uami("a")};
  options.max_set_aside_retries = 1;

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kArmError);
  EXPECT_EQ(r.patches, 2u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, "FailedIdentityOperation");
  EXPECT_EQ(r.set_aside.size(), 1u);
  EXPECT_TRUE(arm.ids_on(vmss).empty());
}

TEST_F(IdentitySyncTest, LinkedFailureNamingNothingSentEndsTheRound) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_patch(testing::arm_failure(403, testing::linked_authorization_failed_body(kVmssId, {uami("other")})));

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kArmError);
  EXPECT_EQ(r.patches, 1u) << "retrying without nothing would fail the same way";
  EXPECT_TRUE(r.set_aside.empty());
}

TEST_F(IdentitySyncTest, ThrottledGetReportsRetryAfterAndDoesNothingElse) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_get(testing::throttled(1200s));

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kThrottled);
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, 1200s);
  EXPECT_EQ(r.gets, 1u);
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(ledger.stores, 0u);
  EXPECT_FALSE(r.identities);
  EXPECT_TRUE(arm.ids_on(vmss).empty());
}

TEST_F(IdentitySyncTest, ASubscriptionWide429AndTheBudgetLeftAreReported) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm::ArmOutcome spent = testing::throttled(40s);
  spent.subscription_throttled = true;
  spent.remaining_reads = 0;
  arm.fail_next_get(spent);
  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kThrottled);
  EXPECT_TRUE(r.subscription_throttled);
  EXPECT_EQ(r.remaining_reads, 0);
  EXPECT_EQ(r.remaining_writes, std::nullopt);
}

TEST_F(IdentitySyncTest, ThrottledPatchStopsTheRound) {
  arm.put_compute(vmss, "None");
  for (int i = 0; i < 160; ++i) {
    std::string id = uami("bulk-" + std::to_string(i));
    arm.create_identity(id, "client");
    target.desired.push_back(id);
  }
  arm.fail_next_patch(testing::throttled(30s));

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kThrottled);
  EXPECT_EQ(r.retry_after, std::optional<std::chrono::seconds>(30s));
  EXPECT_EQ(r.patches, 1u) << "the second body waits for the next round";
  EXPECT_EQ(r.gets, 1u);
  EXPECT_EQ(ledger.stores, 1u) << "only the record before the PATCH";
}

TEST_F(IdentitySyncTest, LedgerHoldsTheAddedIdsWhenThePatchIsSent) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("pre")});
  record({uami("b")});
  target.desired = names({"a", "b"});  // b recorded earlier but absent (a lost add): added again
  std::vector<std::string> at_patch;
  arm.on_patch = [&](const nlohmann::json&) { at_patch = ledger.ids(vmss); };

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(keys(at_patch), keys(names({"a", "b"})));
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a", "b"})));
}

TEST_F(IdentitySyncTest, FailureBetweenRecordAndPatchIsCleanedByTheNextRound) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_patch(testing::transport_failure());

  auto crashed = round();
  EXPECT_EQ(crashed.status, SyncStatus::kTransport);
  EXPECT_FALSE(crashed.detail.empty());
  EXPECT_FALSE(crashed.identities) << "the PATCH may or may not have landed";
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a"}))) << "kept: it might be on the compute";
  EXPECT_TRUE(arm.ids_on(vmss).empty());

  // The pod went away meanwhile: nothing to PATCH, and the stale record goes.
  target.desired = {};
  auto next = round();
  EXPECT_EQ(next.status, SyncStatus::kConverged);
  EXPECT_EQ(next.patches, 0u);
  EXPECT_EQ(next.gets, 1u);
  EXPECT_TRUE(ledger.ids(vmss).empty());
  EXPECT_TRUE(ledger.records.empty());
}

TEST_F(IdentitySyncTest, FailureBetweenRecordAndPatchThenStillDesiredIsAddedAndKept) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_patch(testing::transport_failure());
  (void)round();

  auto next = round();
  EXPECT_EQ(next.status, SyncStatus::kConverged);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a"})));
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a"})));
}

TEST_F(IdentitySyncTest, LedgerLoadFailureReadsAndPatchesNothing) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  ledger.fail_load = true;

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kLedger);
  EXPECT_NE(r.detail.find("ledger load"), std::string::npos);
  EXPECT_EQ(arm.gets, 0u);
  EXPECT_EQ(arm.patches, 0u);
}

TEST_F(IdentitySyncTest, LedgerStoreFailureMeansNoPatch) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  ledger.fail_store = true;

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kLedger);
  EXPECT_NE(r.detail.find("configmap update"), std::string::npos);
  EXPECT_EQ(arm.patches, 0u);
  EXPECT_TRUE(arm.ids_on(vmss).empty());
}

TEST_F(IdentitySyncTest, LedgerStoreFailureAfterThePatchesIsReported) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("mine"), uami_arm("pre")});
  record({uami("mine")});
  ledger.fail_store = true;  // only the after-round store is needed: a removal records nothing first

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kLedger);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"pre"}))) << "the removal landed";
  EXPECT_EQ(keys(r.removed), keys(names({"mine"})));
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"mine"}))) << "a larger record than needed, never a smaller one";
}

TEST_F(IdentitySyncTest, MalformedLedgerEntryIsDropped) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("mine")});
  record({"not-an-arm-id", uami("mine")});
  target.desired = names({"mine"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(ledger.ids(vmss), std::vector<std::string>{uami("mine")});
}

TEST_F(IdentitySyncTest, DeletingComputeIsNotPatched) {
  arm.put_compute(vmss, "None", {}, "Deleting");
  target.desired = names({"a"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kDeleting);
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(ledger.stores, 0u);
}

TEST_F(IdentitySyncTest, ComputeStillUpdatingReportsNothingPresentAndIsNotPatched) {
  // A previous leader's PATCH is still running: the model lists "a", the nodes do not have it yet.
  arm.put_compute(vmss, "UserAssigned", {uami_arm("a")}, "Updating");
  target.desired = names({"a", "b"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kUpdating);
  EXPECT_FALSE(r.identities) << "what an unfinished operation lists is not yet on the nodes";
  EXPECT_FALSE(r.completed());
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(ledger.stores, 0u);
}

TEST_F(IdentitySyncTest, MissingComputeIsReportedGone) {
  target.desired = names({"a"});  // no put_compute: ARM answers 404

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kGone);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, "ResourceNotFound");
  EXPECT_FALSE(r.identities);
  EXPECT_EQ(r.patches, 0u);
  EXPECT_EQ(ledger.stores, 0u);
}

TEST_F(IdentitySyncTest, ComputeDeletedBetweenGetAndPatchIsReportedGone) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_patch(testing::arm_failure(
      404,
      R"({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Compute/virtualMachineScaleSets/aks-pool' under resource group 'MC_rg' was not found."}})"));

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kGone);
  EXPECT_FALSE(r.identities);
}

TEST_F(IdentitySyncTest, AuthorizationFailureOnTheComputeEndsTheRoundWithItsRemedy) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a", "b"});
  arm.fail_next_patch(testing::arm_failure(403, testing::authorization_failed_body(kVmssId)));

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kArmError);
  EXPECT_EQ(r.patches, 1u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, "AuthorizationFailed");
  EXPECT_NE(r.error->remedy().find("Virtual Machine Contributor"), std::string::npos);
  EXPECT_EQ(r.request_id, "req-403");
  EXPECT_TRUE(r.set_aside.empty());
}

TEST_F(IdentitySyncTest, PreemptedOperationEndsTheRoundWithTheStateUnknown) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_patch(testing::operation_preempted(), /*apply=*/true);

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kArmError);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, "OperationPreempted");
  EXPECT_FALSE(r.identities);
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a"}))) << "it did land: the record must still hold it";
}

TEST_F(IdentitySyncTest, TransportFailureOnGetIsReported) {
  arm.put_compute(vmss, "None");
  target.desired = names({"a"});
  arm.fail_next_get(testing::transport_failure());

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kTransport);
  EXPECT_EQ(r.detail, "connect: connection refused");
  EXPECT_EQ(r.patches, 0u);
}

TEST_F(IdentitySyncTest, MalformedIdentityBlockIsInvalidAndNotPatched) {
  arm.put_compute(vmss, "None");
  arm.set_raw_identity(vmss, {{"type", "Sideways"}});
  target.desired = names({"a"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kInvalid);
  EXPECT_NE(r.detail.find("Sideways"), std::string::npos);
  EXPECT_EQ(r.patches, 0u);
}

TEST_F(IdentitySyncTest, DesiredIdThatIsNotAnIdentityIsRejectedAndTheRestLands) {
  arm.put_compute(vmss, "None");
  target.desired = {"/subscriptions/sub-1/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/s", uami("a")};

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kPartial);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0], target.desired[0]);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"a"})));
}

TEST_F(IdentitySyncTest, MalformedImmutableIdIsInvalid) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("mine")});
  record({uami("mine")});
  target.immutable_ids = {"mine"};

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kInvalid);
  EXPECT_EQ(arm.gets, 0u);
  EXPECT_EQ(keys(arm.ids_on(vmss)), keys(names({"mine"})));
}

TEST_F(IdentitySyncTest, PatchAnswerWithoutTheResourceIsFollowedByAGet) {
  arm.put_compute(vmss, "None");
  arm.patch_without_resource = true;
  target.desired = names({"a"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.gets, 2u);
  ASSERT_TRUE(r.identities);
  EXPECT_EQ(keys(*r.identities), keys(names({"a"})));
  EXPECT_EQ(keys(r.added), keys(names({"a"})));
}

TEST_F(IdentitySyncTest, AddAndRemoveTogetherReportBoth) {
  arm.put_compute(vmss, "UserAssigned", {uami_arm("mine")});
  record({uami("mine")});
  target.desired = names({"a"});

  auto r = round();
  EXPECT_EQ(r.status, SyncStatus::kConverged);
  EXPECT_EQ(r.patches, 1u);
  EXPECT_EQ(keys(r.added), keys(names({"a"})));
  EXPECT_EQ(keys(r.removed), keys(names({"mine"})));
  EXPECT_EQ(keys(ledger.ids(vmss)), keys(names({"a"})));
}

TEST(SyncStatusNames, AreDistinct) {
  std::set<std::string_view> seen;
  for (auto s : {SyncStatus::kConverged, SyncStatus::kPartial, SyncStatus::kGone, SyncStatus::kDeleting,
                 SyncStatus::kUpdating, SyncStatus::kThrottled, SyncStatus::kArmError, SyncStatus::kTransport,
                 SyncStatus::kLedger, SyncStatus::kInvalid}) {
    EXPECT_TRUE(seen.insert(to_string(s)).second) << to_string(s);
  }
}

}  // namespace
}  // namespace podid::controller
