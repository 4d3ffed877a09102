// SPDX-License-Identifier: Apache-2.0
#include "controller/leader/lease_record.h"

#include <gtest/gtest.h>

namespace podid::controller::leader {
namespace {

using nlohmann::json;
using namespace std::chrono;

const system_clock::time_point kWall = sys_days{year{2024} / June / 1} + hours(8);
const steady_clock::time_point kT0 = steady_clock::time_point{} + hours(100);
constexpr seconds kDuration{15};

LeaseRecord held_by(const std::string& holder, int transitions = 2) {
  return {holder, 15, "2024-06-01T07:00:00.000000Z", "2024-06-01T07:59:59.000000Z", transitions};
}

TEST(LeaseRecordJson, RoundTrip) {
  LeaseRecord r = held_by("replica-a");
  json lease = {{"metadata", {{"name", "podid-controller"}}}, {"spec", lease_spec(r)}};
  EXPECT_EQ(lease["spec"]["holderIdentity"], "replica-a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 2);
  auto back = lease_record_from(lease);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), r);
  // A Lease without spec (or with nulls) is an empty record.
  EXPECT_EQ(lease_record_from(json{{"metadata", json::object()}}).value(), LeaseRecord{});
  EXPECT_EQ(lease_record_from(json{{"spec", {{"holderIdentity", nullptr}}}}).value(), LeaseRecord{});
}

TEST(LeaseRecordJson, WrongTypesAreErrors) {
  for (const json& spec : {json{{"holderIdentity", 5}}, json{{"leaseDurationSeconds", "15"}},
                           json{{"leaseTransitions", 1.5}}, json{{"renewTime", 1}}, json("spec"),
                           json{{"acquireTime", json::array()}}}) {
    auto r = lease_record_from(json{{"spec", spec}});
    EXPECT_FALSE(r.ok()) << spec.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, std::errc::bad_message);
    }
  }
  EXPECT_FALSE(lease_record_from(json::array()).ok());
}

TEST(NextLeaseStep, AbsentLeaseIsCreatedHeldByUs) {
  auto step = next_lease_step(std::nullopt, {}, "me", kDuration, kT0, kWall);
  EXPECT_EQ(step.action, LeaseAction::kCreate);
  EXPECT_EQ(step.desired.holder_identity, "me");
  EXPECT_EQ(step.desired.lease_duration_seconds, 15);
  EXPECT_EQ(step.desired.lease_transitions, 0);
  EXPECT_EQ(step.desired.acquire_time, "2024-06-01T08:00:00.000000Z");
  EXPECT_EQ(step.desired.renew_time, "2024-06-01T08:00:00.000000Z");
}

TEST(NextLeaseStep, ExpiryIsJudgedByOurObservationNotTheirClock) {
  LeaseRecord other = held_by("other");
  // First sight: the clock of expiry starts now, whatever renewTime says (their clock, not ours).
  auto first = next_lease_step(other, {}, "me", kDuration, kT0, kWall);
  EXPECT_EQ(first.action, LeaseAction::kWait);
  EXPECT_EQ(first.observation.at, kT0);
  // Unchanged for less than its leaseDurationSeconds: still theirs.
  auto before = next_lease_step(other, first.observation, "me", kDuration, kT0 + seconds(14), kWall);
  EXPECT_EQ(before.action, LeaseAction::kWait);
  EXPECT_EQ(before.observation.at, kT0);  // not restarted: the record did not change
  // Unchanged for the whole duration: expired, we take it (a transition).
  auto after = next_lease_step(other, first.observation, "me", kDuration, kT0 + seconds(15), kWall);
  EXPECT_EQ(after.action, LeaseAction::kUpdate);
  EXPECT_EQ(after.desired.holder_identity, "me");
  EXPECT_EQ(after.desired.lease_transitions, 3);
  EXPECT_EQ(after.desired.acquire_time, "2024-06-01T08:00:00.000000Z");
}

TEST(NextLeaseStep, ARenewalByTheHolderRestartsTheExpiryClock) {
  LeaseRecord other = held_by("other");
  auto first = next_lease_step(other, {}, "me", kDuration, kT0, kWall);
  LeaseRecord renewed = other;
  renewed.renew_time = "2024-06-01T08:00:10.000000Z";
  auto seen = next_lease_step(renewed, first.observation, "me", kDuration, kT0 + seconds(10), kWall);
  EXPECT_EQ(seen.action, LeaseAction::kWait);
  EXPECT_EQ(seen.observation.at, kT0 + seconds(10));
  auto still = next_lease_step(renewed, seen.observation, "me", kDuration, kT0 + seconds(20), kWall);
  EXPECT_EQ(still.action, LeaseAction::kWait);  // 20 s after first sight, but only 10 s after the renewal
}

TEST(NextLeaseStep, TheLeaseDurationInTheRecordCountsNotOurs) {
  LeaseRecord released_soon = held_by("other");
  released_soon.lease_duration_seconds = 1;
  auto first = next_lease_step(released_soon, {}, "me", kDuration, kT0, kWall);
  EXPECT_EQ(first.action, LeaseAction::kWait);
  EXPECT_EQ(next_lease_step(released_soon, first.observation, "me", kDuration, kT0 + seconds(1), kWall).action,
            LeaseAction::kUpdate);
}

TEST(NextLeaseStep, OursIsRenewedKeepingAcquireTimeAndTransitions) {
  LeaseRecord mine = held_by("me", 4);
  auto step = next_lease_step(mine, {mine, kT0}, "me", kDuration, kT0 + seconds(3), kWall);
  EXPECT_EQ(step.action, LeaseAction::kUpdate);
  EXPECT_EQ(step.desired.acquire_time, mine.acquire_time);
  EXPECT_EQ(step.desired.lease_transitions, 4);
  EXPECT_EQ(step.desired.renew_time, "2024-06-01T08:00:00.000000Z");
}

TEST(NextLeaseStep, AReleasedLeaseIsTakenAtOnce) {
  LeaseRecord released = released_record(held_by("other", 6), kWall);
  EXPECT_EQ(released.holder_identity, "");
  EXPECT_EQ(released.lease_duration_seconds, 1);
  EXPECT_EQ(released.lease_transitions, 6);
  auto step = next_lease_step(released, {}, "me", kDuration, kT0, kWall);
  EXPECT_EQ(step.action, LeaseAction::kUpdate);
  EXPECT_EQ(step.desired.holder_identity, "me");
  EXPECT_EQ(step.desired.lease_transitions, 7);
}

}  // namespace
}  // namespace podid::controller::leader
