// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/decision_log.h"

#include <gtest/gtest.h>

#include "agent/serve/audit.h"

using namespace podid::agent;
using std::chrono::system_clock;

namespace {

TokenDecision decision(std::string_view uid, std::string_view resource, std::string_view outcome = "served") {
  return {.ns = "demo",
          .pod = "kv-reader",
          .pod_uid = uid,
          .cgroup_id = 77,
          .client_id = "c1",
          .resource = resource,
          .decision = outcome,
          .reason = "bound",
          .source = "cache",
          .status = 200,
          .latency = std::chrono::microseconds(42)};
}

system_clock::time_point at(int seconds) { return system_clock::time_point(std::chrono::seconds(seconds)); }

}  // namespace

TEST(DecisionLog, KeepsEveryFieldOfADecision) {
  DecisionLog log;
  log.record(decision("u1", "https://vault.azure.net"), at(5));
  auto kept = log.of("u1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->ns, "demo");
  EXPECT_EQ(kept->name, "kv-reader");
  ASSERT_EQ(kept->newest_last.size(), 1u);
  const DecisionRecord& r = kept->newest_last[0];
  EXPECT_EQ(r.at, at(5));
  EXPECT_EQ(r.cgroup_id, 77u);
  EXPECT_EQ(r.client_id.view(), "c1");
  EXPECT_EQ(r.resource.view(), "https://vault.azure.net");
  EXPECT_EQ(r.decision.view(), "served");
  EXPECT_EQ(r.reason.view(), "bound");
  EXPECT_EQ(r.source.view(), "cache");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.latency_us, 42u);
  EXPECT_FALSE(log.of("u2"));
}

TEST(DecisionLog, KeepsTheNewestPerPodInOrder) {
  DecisionLog log(3, 10);
  for (int i = 0; i < 5; ++i) log.record(decision("u1", "r" + std::to_string(i)), at(i));
  auto kept = log.of("u1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->recorded, 5u);
  ASSERT_EQ(kept->newest_last.size(), 3u);
  EXPECT_EQ(kept->newest_last[0].resource.view(), "r2");
  EXPECT_EQ(kept->newest_last[2].resource.view(), "r4");
}

TEST(DecisionLog, ForgetsThePodThatDecidedLeastRecentlyBeyondItsBound) {
  DecisionLog log(2, 2);
  log.record(decision("a", "r"), at(1));
  log.record(decision("b", "r"), at(2));
  log.record(decision("a", "r"), at(3));  // a is now the most recent
  log.record(decision("c", "r"), at(4));  // over the bound: b goes
  EXPECT_EQ(log.pods(), 2u);
  EXPECT_TRUE(log.of("a"));
  EXPECT_FALSE(log.of("b"));
  EXPECT_TRUE(log.of("c"));
  EXPECT_EQ(log.pods_forgotten(), 1u);
}

TEST(DecisionLog, KeepsNothingForACallerNoPodOwns) {
  DecisionLog log;
  log.record(decision("", "r"), at(1));
  EXPECT_EQ(log.pods(), 0u);
}

TEST(DecisionLog, TruncatesLongValuesOnACharacterBoundaryAndSaysSo) {
  DecisionLog log;
  std::string resource(158, 'x');
  resource += "\xC3\xA9";  // 'é' straddles the 159-byte field's end
  log.record(decision("u1", resource), at(1));
  const DecisionRecord& r = log.of("u1")->newest_last[0];
  EXPECT_TRUE(r.resource.truncated());
  EXPECT_EQ(r.resource.view(), std::string(158, 'x'));
  EXPECT_FALSE(r.client_id.truncated());
}

TEST(DecisionLog, ABadRequestKeepsThePodsNamesFromEarlierDecisions) {
  DecisionLog log;
  log.record(decision("u1", "r"), at(1));
  log.record(
      {.pod_uid = "u1", .cgroup_id = 77, .decision = "bad_request", .reason = "missing_metadata_header", .status = 400},
      at(2));
  auto kept = log.of("u1");
  EXPECT_EQ(kept->name, "kv-reader");
  EXPECT_EQ(kept->newest_last.back().decision.view(), "bad_request");
}

TEST(DecisionLog, AuditingADecisionKeepsIt) {
  DecisionLog log;
  audit_token_decision(decision("u9", "https://management.azure.com"), &log);
  auto kept = log.of("u9");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->newest_last[0].resource.view(), "https://management.azure.com");
}

// The bound the header and docs/doctor.md state: kMaxPods * kPerPod records of this size.
TEST(DecisionLog, WorstCaseMemoryIsUnderTwoMegabytes) {
  EXPECT_LE(DecisionLog::kMaxPods * DecisionLog::kPerPod * sizeof(DecisionRecord), 2u * 1024 * 1024)
      << sizeof(DecisionRecord);
}

// A replayed answer (token_replay.h) is its own decision: kept with its own time and latency.
TEST(DecisionLog, EachReplayedDecisionIsKeptAsItsOwn) {
  DecisionLog log;
  RepeatedAudit replayed(decision("u1", "https://vault.azure.net"), &log);
  replayed.write(std::chrono::microseconds(5));
  replayed.write(std::chrono::microseconds(7));
  auto kept = log.of("u1");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->recorded, 2u);
  EXPECT_EQ(kept->name, "kv-reader");
  EXPECT_EQ(kept->newest_last[1].latency_us, 7u);
  EXPECT_EQ(kept->newest_last[1].resource.view(), "https://vault.azure.net");
  EXPECT_NE(kept->newest_last[1].at, system_clock::time_point());
  RepeatedAudit nowhere(decision("", "r"), &log);  // no pod UID: nothing kept
  nowhere.write(std::chrono::microseconds(1));
  EXPECT_EQ(log.pods(), 1u);
}
