// SPDX-License-Identifier: Apache-2.0
#include "agent/api/routes.h"

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

CallerView caller() {
  CallerView v;
  v.ident.caller.cgroup_id = 4242;
  v.ident.caller.ancestor_cgroup_id[1] = 4200;
  v.ident.caller.pid_tgid = (uint64_t{31} << 32) | 32;
  v.ident.caller.orig_family = PODID_AF_INET;
  inet_pton(AF_INET, "169.254.169.254", v.ident.caller.orig_daddr);
  v.ident.caller.orig_dport = htons(80);
  v.cgroup_path = "/kubepods.slice/x.scope";
  v.record_age = std::chrono::microseconds(250);
  return v;
}
}  // namespace

TEST(Routes, whoami_reports_what_the_kernel_recorded) {
  auto res = handle_attributed(get("/podid/v1/whoami?x=1"), caller());
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

TEST(Routes, other_paths_and_methods_are_not_served) {
  EXPECT_EQ(handle_attributed(get("/metadata/identity/oauth2/token"), caller()).result(), http::Status::not_found);
  auto post = get("/podid/v1/whoami");
  post.method(boost::beast::http::verb::post);
  EXPECT_EQ(handle_attributed(post, caller()).result(), http::Status::method_not_allowed);
}

TEST(Routes, refusal_is_403_with_reason_and_closes) {
  auto res = handle_refused(get("/podid/v1/whoami"), Refusal::kStaleRecord);
  EXPECT_EQ(res.result(), http::Status::forbidden);
  EXPECT_EQ(nlohmann::json::parse(res.body())["reason"], "stale_kernel_record");
  EXPECT_FALSE(res.keep_alive());
}
