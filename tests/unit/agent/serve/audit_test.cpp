// SPDX-License-Identifier: Apache-2.0
//
// The audit line: one JSON object per decision, and the repeated form (a replayed answer's) the same line.
#include "agent/serve/audit.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "capture_stderr.h"

namespace podid::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing_support::capture_stderr;

const TokenDecision kServed{.ns = "shop", .pod = "web-0", .cgroup_id = 77, .client_id = "client-a",
                            .resource = "https://vault.azure.net", .decision = "served", .reason = "bound",
                            .source = "cache", .status = 200, .latency = 42us};

json without_ts(json line) {
  line.erase("ts");
  return line;
}

TEST(Audit, ADecisionIsOneJsonLineWithEveryField) {
  auto out = capture_stderr([] { audit_token_decision(kServed); });
  ASSERT_EQ(out.find('\n'), out.size() - 1) << out;
  auto line = json::parse(out);
  EXPECT_EQ(line["msg"], "token decision");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["audit"], true);
  EXPECT_EQ(line["namespace"], "shop");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["latency_us"], 42);
  EXPECT_FALSE(line.contains("subject"));
}

TEST(Audit, ARepeatedDecisionWritesTheSameLineWithItsOwnLatency) {
  RepeatedAudit repeated(kServed);
  auto once = capture_stderr([] { audit_token_decision(kServed); });
  auto again = capture_stderr([&] { repeated.write(42us); });
  EXPECT_EQ(without_ts(json::parse(again)), without_ts(json::parse(once)));
  auto later = capture_stderr([&] { repeated.write(1500us); });
  EXPECT_EQ(json::parse(later)["latency_us"], 1500);
}

TEST(Audit, RefusalsAreWarningsSoTheySurviveAWarnLogLevel) {
  TokenDecision refused = kServed;
  refused.decision = "refused";
  refused.reason = "source_ip_mismatch";
  refused.status = 403;
  log::set_min_level(log::Level::kWarn);
  auto served = capture_stderr([] { audit_token_decision(kServed); });
  auto kept = capture_stderr([&] { audit_token_decision(refused); });
  auto repeated = capture_stderr([&] { RepeatedAudit(refused).write(1us); });
  log::set_min_level(log::Level::kInfo);
  EXPECT_EQ(served, "");
  EXPECT_EQ(json::parse(kept)["level"], "warn");
  EXPECT_EQ(json::parse(repeated)["reason"], "source_ip_mismatch");
}

}  // namespace
}  // namespace podid::agent
