// SPDX-License-Identifier: Apache-2.0
#include "podid/http/ops_routes.h"

#include <gtest/gtest.h>

namespace podid::http {
namespace {

Request get(const std::string& target) {
  Request req{boost::beast::http::verb::get, target, 11};
  req.set(boost::beast::http::field::host, "127.0.0.1");
  return req;
}

TEST(OpsRoutes, LiveReadyAndMetrics) {
  OpsState ok{.live = [] { return true; }, .ready = [] { return std::string(); }, .metrics = [] { return std::string("m 1\n"); }};
  EXPECT_EQ(handle_ops(get("/healthz"), ok).result(), Status::ok);
  EXPECT_EQ(handle_ops(get("/readyz?verbose"), ok).result(), Status::ok);
  auto metrics = handle_ops(get("/metrics"), ok);
  EXPECT_EQ(metrics.body(), "m 1\n");
  EXPECT_EQ(metrics[boost::beast::http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(handle_ops(get("/nope"), ok).result(), Status::not_found);
}

TEST(OpsRoutes, NotLiveAndNotReadySayWhy) {
  OpsState bad{.live = [] { return false; }, .ready = [] { return std::string("links missing"); }, .metrics = nullptr};
  EXPECT_EQ(handle_ops(get("/healthz"), bad).result(), Status::service_unavailable);
  auto ready = handle_ops(get("/readyz"), bad);
  EXPECT_EQ(ready.result(), Status::service_unavailable);
  EXPECT_EQ(ready.body(), "links missing\n");
  EXPECT_EQ(handle_ops(get("/readyz"), OpsState{}).body(), "no readiness check\n");
}

TEST(OpsRoutes, ReadinessDetailFollowsTheVerdictEitherWay) {
  OpsState ok{.live = [] { return true; }, .ready = [] { return std::string(); }, .metrics = nullptr,
              .detail = [] { return std::string("hook a: active\nhook b: inactive (no kernel support)\n"); }};
  auto ready = handle_ops(get("/readyz"), ok);
  EXPECT_EQ(ready.result(), Status::ok);
  EXPECT_EQ(ready.body(), "ok\nhook a: active\nhook b: inactive (no kernel support)\n");
  OpsState bad = ok;
  bad.ready = [] { return std::string("links missing"); };
  auto not_ready = handle_ops(get("/readyz"), bad);
  EXPECT_EQ(not_ready.result(), Status::service_unavailable);
  EXPECT_EQ(not_ready.body(), "links missing\nhook a: active\nhook b: inactive (no kernel support)\n");
}

}  // namespace
}  // namespace podid::http
