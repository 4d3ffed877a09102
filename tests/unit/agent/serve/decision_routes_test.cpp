// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/decision_routes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/serve/audit.h"

using namespace podid;
using namespace podid::agent;
namespace ip = boost::asio::ip;

namespace {

http::Request request(const std::string& target, boost::beast::http::verb verb = boost::beast::http::verb::get) {
  http::Request req{verb, target, 11};
  req.set(boost::beast::http::field::host, "127.0.0.1");
  return req;
}

struct Fixture {
  DecisionLog log;
  DecisionsView view{
      .node = "node-a",
      .log = &log,
      .pod_cgroup = [](const std::string& uid) -> std::optional<PodCgroup> {
        if (uid == "u1" || uid == "u3") return PodCgroup{.id = 4200, .path = "/kubepods.slice/pod-" + uid};
        return std::nullopt;
      },
      .cgroup_path = [](uint64_t id) -> std::optional<std::string> {
        if (id == 4242) return std::string("/kubepods.slice/pod-u1/ctr.scope");
        return std::nullopt;
      },
  };
};

}  // namespace

TEST(DecisionsAccess, OnlyLoopbackPeersAreNodeLocal) {
  EXPECT_TRUE(is_node_local_peer(ip::make_address("127.0.0.1")));
  EXPECT_TRUE(is_node_local_peer(ip::make_address("127.3.2.1")));
  EXPECT_TRUE(is_node_local_peer(ip::make_address("::1")));
  EXPECT_TRUE(is_node_local_peer(ip::make_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(is_node_local_peer(ip::make_address("10.244.0.5")));    // a pod
  EXPECT_FALSE(is_node_local_peer(ip::make_address("169.254.32.1")));  // the redirect address
  EXPECT_FALSE(is_node_local_peer(ip::make_address("::ffff:10.244.0.5")));
  EXPECT_FALSE(is_node_local_peer(ip::make_address("fd00::5")));
  EXPECT_FALSE(is_node_local_peer(ip::make_address("0.0.0.0")));
}

TEST(DecisionsRoute, ShowsThePodsCgroupAndItsDecisionsNewestFirst) {
  Fixture f;
  f.log.record({.ns = "demo",
                .pod = "kv-reader",
                .pod_uid = "u1",
                .cgroup_id = 4242,
                .client_id = "c1",
                .resource = "https://vault.azure.net",
                .decision = "served",
                .reason = "bound",
                .source = "upstream",
                .status = 200,
                .latency = std::chrono::milliseconds(3)},
               std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123)));
  f.log.record({.ns = "demo",
                .pod = "kv-reader",
                .pod_uid = "u1",
                .cgroup_id = 4243,
                .resource = "r2",
                .decision = "not_found",
                .reason = "no_binding",
                .status = 400},
               std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'001)));
  f.log.record({.ns = "demo", .pod = "other", .pod_uid = "u2", .cgroup_id = 9, .decision = "served"},
               std::chrono::system_clock::now());
  auto res = handle_decisions(request("/podid/v1/decisions?pod_uid=u1"), f.view);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["node"], "node-a");
  EXPECT_EQ(body["namespace"], "demo");
  EXPECT_EQ(body["pod"], "kv-reader");
  EXPECT_EQ(body["cgroup"]["id"], 4200);
  EXPECT_EQ(body["cgroup"]["path"], "/kubepods.slice/pod-u1");
  EXPECT_EQ(body["recorded"], 2);
  ASSERT_EQ(body["decisions"].size(), 2u);
  EXPECT_EQ(body["decisions"][0]["decision"], "not_found");
  EXPECT_EQ(body["decisions"][0]["reason"], "no_binding");
  EXPECT_TRUE(body["decisions"][0]["cgroup_path"].is_null());
  const auto& served = body["decisions"][1];
  EXPECT_EQ(served["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(served["cgroup_id"], 4242);
  EXPECT_EQ(served["cgroup_path"], "/kubepods.slice/pod-u1/ctr.scope");
  EXPECT_EQ(served["client_id"], "c1");
  EXPECT_EQ(served["resource"], "https://vault.azure.net");
  EXPECT_EQ(served["source"], "upstream");
  EXPECT_EQ(served["status"], 200);
  EXPECT_EQ(served["latency_us"], 3000);
  EXPECT_FALSE(served.contains("subject"));
  EXPECT_FALSE(served.contains("truncated"));
}

TEST(DecisionsRoute, APodWithoutDecisionsStillShowsItsCgroup) {
  Fixture f;
  auto body = nlohmann::json::parse(handle_decisions(request("/podid/v1/decisions?x=1&pod_uid=u3"), f.view).body());
  EXPECT_EQ(body["cgroup"]["id"], 4200);
  EXPECT_TRUE(body["decisions"].empty());
  EXPECT_EQ(body["recorded"], 0);
  auto unknown = nlohmann::json::parse(handle_decisions(request("/podid/v1/decisions?pod_uid=u4"), f.view).body());
  EXPECT_TRUE(unknown["cgroup"].is_null());
}

TEST(DecisionsRoute, RefusesWhatItDoesNotServe) {
  Fixture f;
  EXPECT_EQ(handle_decisions(request("/podid/v1/decisions"), f.view).result(), http::Status::bad_request);
  EXPECT_EQ(handle_decisions(request("/podid/v1/decisions?pod_uid="), f.view).result(), http::Status::bad_request);
  EXPECT_EQ(handle_decisions(request("/podid/v1/decisions?pod_uid=a%2Fb"), f.view).result(), http::Status::bad_request);
  EXPECT_EQ(handle_decisions(request("/metrics"), f.view).result(), http::Status::not_found);
  EXPECT_EQ(
      handle_decisions(request("/podid/v1/decisions?pod_uid=u1", boost::beast::http::verb::post), f.view).result(),
      http::Status::method_not_allowed);
}
