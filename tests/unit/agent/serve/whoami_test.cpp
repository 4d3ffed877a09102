// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/whoami.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace podid;
using namespace podid::agent;

namespace {
http::Request get(const std::string& target) {
  http::Request req{boost::beast::http::verb::get, target, 11};
  req.set(boost::beast::http::field::host, "169.254.169.254");
  return req;
}

Caller caller() {
  Caller v;
  v.ident.caller.cgroup_id = 4242;
  v.ident.caller.ancestor_cgroup_id[1] = 4200;
  v.ident.caller.pid_tgid = (uint64_t{31} << 32) | 32;
  v.ident.caller.orig_family = PODID_AF_INET;
  inet_pton(AF_INET, "169.254.169.254", v.ident.caller.orig_daddr);
  v.ident.caller.orig_dport = htons(80);
  v.record_age = std::chrono::microseconds(250);
  return v;
}

// The paths the agent knows: only the caller's own cgroup.
std::optional<std::string> path_of(uint64_t id) {
  if (id == 4242) return "/kubepods.slice/x.scope";
  return std::nullopt;
}
}  // namespace

TEST(Whoami, ReportsWhatTheKernelRecorded) {
  auto res = handle_whoami(get("/podid/v1/whoami?x=1"), caller(), path_of);
  EXPECT_EQ(res.result(), http::Status::ok);
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["cgroup_id"], 4242);
  EXPECT_EQ(body["cgroup_path"], "/kubepods.slice/x.scope");
  EXPECT_EQ(body["ancestor_cgroups"][1]["id"], 4200);
  EXPECT_TRUE(body["ancestor_cgroups"][1]["path"].is_null());
  EXPECT_EQ(body["pid"], 31);
  EXPECT_EQ(body["original_destination"], "169.254.169.254:80");
  EXPECT_EQ(body["record_age_us"], 250);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json; charset=utf-8");
}

TEST(Whoami, OtherPathsAndMethodsAreNotServed) {
  EXPECT_EQ(handle_whoami(get("/metadata/identity/oauth2/token"), caller(), path_of).result(), http::Status::not_found);
  auto post = get("/podid/v1/whoami");
  post.method(boost::beast::http::verb::post);
  EXPECT_EQ(handle_whoami(post, caller(), path_of).result(), http::Status::method_not_allowed);
}

TEST(Whoami, RefusalIs403WithReasonAndCloses) {
  auto res = refusal_response(Refusal::kStaleRecord);
  EXPECT_EQ(res.result(), http::Status::forbidden);
  EXPECT_EQ(nlohmann::json::parse(res.body())["reason"], "stale_kernel_record");
  EXPECT_FALSE(res.keep_alive());
}
