// SPDX-License-Identifier: Apache-2.0
//
// A replayed token answer holds exactly while nothing it was decided from changes (agent/serve/token_replay.h),
// and each answer given again is counted and audited as its own decision.
#include "agent/serve/token_replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "capture_stderr.h"

namespace podid::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class SettableClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now() const override { return now_; }
  std::chrono::system_clock::time_point now_{std::chrono::seconds{1'800'000'000} + 200ms};
};

json pod(const std::string& name, const std::string& uid) {
  return {{"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", uid}, {"resourceVersion", "1"}}},
          {"spec", {{"nodeName", "node-a"}}},
          {"status", {{"phase", "Running"}, {"podIP", "10.244.1.5"}}}};
}

class TokenReplayTest : public testing::Test {
 protected:
  TokenReplay make() {
    return TokenReplay(inputs, metrics,
                       RepeatedDecision{.ns = "shop", .pod = "web-0", .pod_uid = "uid-web", .client_id = "client-a",
                                        .resource = "https://vault.azure.net", .reason = "bound", .cgroup_id = 77},
                       inputs.generation(), clock.now());
  }

  boost::asio::io_context io;
  SettableClock clock;
  PodStore pods;
  IdentityStore identities;
  ServiceAccountStore accounts;
  azure::TokenCache cache{io.get_executor(), clock};
  ScrapedRegistry registry;
  TokenMetrics metrics{registry};
  DecisionInputs inputs{pods, identities, &accounts, cache, clock};
};

TEST_F(TokenReplayTest, HoldsWhileNothingChangesWithinItsSecond) {
  auto replay = make();
  EXPECT_TRUE(replay.current());
  clock.now_ += 799ms;  // 1,800,000,000.999
  EXPECT_TRUE(replay.current());
  clock.now_ += 1ms;  // the next second: expires_in would be one less
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, APodEventEndsIt) {
  auto replay = make();
  pods.apply(k8s::WatchEventType::kAdded, pod("other", "uid-other"));
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, AnIdentityObjectEventEndsIt) {
  auto replay = make();
  identities.apply_binding(Change::kDeleted, json{{"metadata", {{"name", "b"}, {"namespace", "shop"}}}});
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, AServiceAccountEventEndsIt) {
  auto replay = make();
  accounts.apply(k8s::WatchEventType::kAdded, json{{"metadata", {{"name", "sa"}, {"namespace", "shop"}}}});
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, AChangeToTheCachedTokensEndsIt) {
  auto replay = make();
  cache.clear();
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, ADecisionFromAnEarlierStateNeverHolds) {
  uint64_t before = inputs.generation();
  pods.apply(k8s::WatchEventType::kAdded, pod("other", "uid-other"));
  TokenReplay replay(inputs, metrics, RepeatedDecision{.pod_uid = "uid-web"}, before, clock.now());
  EXPECT_FALSE(replay.current());
}

TEST_F(TokenReplayTest, EachAnswerGivenAgainIsCountedAndAuditedAsItsDecision) {
  auto replay = make();
  std::string out = testing_support::capture_stderr([&] {
    replay.replayed(42us);
    replay.replayed(43us);
  });
  std::string text = registry.serialize();
  EXPECT_NE(text.find("podid_token_requests_total{identity=\"client-a\",namespace=\"shop\",pod=\"web-0\","
                      "resource=\"https://vault.azure.net\",result=\"served\",source=\"cache\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("podid_token_replays_total 2"), std::string::npos);
  auto first = json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(first["audit"], true);
  EXPECT_EQ(first["decision"], "served");
  EXPECT_EQ(first["source"], "cache");
  EXPECT_EQ(first["reason"], "bound");
  EXPECT_EQ(first["pod"], "web-0");
  EXPECT_EQ(first["cgroup_id"], 77);
  EXPECT_EQ(first["client_id"], "client-a");
  EXPECT_EQ(first["latency_us"], 42);
  EXPECT_EQ(json::parse(out.substr(out.find('\n') + 1))["latency_us"], 43);
}

}  // namespace
}  // namespace podid::agent
