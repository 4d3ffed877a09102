// SPDX-License-Identifier: Apache-2.0
// Reflector against a scripted API server: list (paginated), watch from the listed version, bookmarks,
// 410 -> relist, dropped and failing watches -> resume from the last version, stop().
#include "podid/k8s/reflector.h"

#include <gtest/gtest.h>

#include "reflector_fixture.h"

namespace podid::k8s {
namespace {

using namespace testing;
using podid::testing::bookmark;
using podid::testing::event_line;
using podid::testing::list_body;
using podid::testing::pod;

class ReflectorTest : public ReflectorFixture {
 protected:
  ReflectorHandler handler() override { return recorder_.handler(); }
  Recorder recorder_;
};

TEST_F(ReflectorTest, ListsAllPagesThenWatchesFromTheListedVersion) {
  api_.on_list = [](const http::Request& req, size_t i) {
    if (i == 0) return once(http_response(200, list_body({pod("a", "5")}, "10", "tok/1")));
    if (query_param(req.target(), "continue") != "tok/1") return error_status(400);
    return once(http_response(200, list_body({pod("b", "7")}, "10")));
  };
  api_.on_watch = [](const http::Request&, size_t i) {
    if (i == 0) {
      // Ends normally (as at timeoutSeconds): the next watch resumes from the last version seen, 16.
      return stream_then_end(event_line("ADDED", pod("c", "11")) + event_line("MODIFIED", pod("a", "12")) +
                             event_line("BOOKMARK", bookmark("15")) + event_line("DELETED", pod("b", "16")));
    }
    return hold(chunk(event_line("BOOKMARK", bookmark("16"))));
  };
  start({.field_selector = "spec.nodeName=node-1", .label_selector = "app in (a,b)", .watch_timeout_seconds = 7});
  ASSERT_TRUE(until([&] { return api_.watch_targets.size() == 2 && reflector_->stats().connected; }));

  EXPECT_EQ(recorder_.replaces, (std::vector<std::vector<std::string>>{{"a", "b"}}));
  EXPECT_EQ(recorder_.events, (std::vector<std::string>{"ADDED c@11", "MODIFIED a@12", "DELETED b@16"}));

  ASSERT_EQ(api_.list_targets.size(), 2u) << "two pages, no relist";
  for (const auto& t : api_.list_targets) {
    EXPECT_EQ(podid::testing::path_of(t), "/api/v1/pods");
    EXPECT_EQ(query_param(t, "limit"), "500");
    EXPECT_EQ(query_param(t, "fieldSelector"), "spec.nodeName=node-1");
    EXPECT_EQ(query_param(t, "labelSelector"), "app in (a,b)");
  }
  EXPECT_EQ(query_param(api_.list_targets[0], "continue"), std::nullopt);
  const auto& w0 = api_.watch_targets[0];
  EXPECT_EQ(query_param(w0, "resourceVersion"), "10");
  EXPECT_EQ(query_param(w0, "allowWatchBookmarks"), "true");
  EXPECT_EQ(query_param(w0, "timeoutSeconds"), "7");
  EXPECT_EQ(query_param(w0, "fieldSelector"), "spec.nodeName=node-1");
  EXPECT_EQ(query_param(w0, "labelSelector"), "app in (a,b)");
  EXPECT_EQ(query_param(api_.watch_targets[1], "resourceVersion"), "16");
  EXPECT_EQ(server_->requests().at(0)[boost::beast::http::field::authorization], "Bearer reflector-token");

  const ReflectorStats& s = reflector_->stats();
  EXPECT_TRUE(s.synced);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.watches, 2u);
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.relists_gone, 0u);
  EXPECT_NE(s.last_success, std::chrono::system_clock::time_point{});
}

TEST_F(ReflectorTest, ErrorEvent410Relists) {
  api_.on_list = [](const http::Request&, size_t i) {
    if (i == 0) return once(http_response(200, list_body({pod("a", "5")}, "10")));
    return once(http_response(200, list_body({pod("a", "25"), pod("z", "29")}, "30")));
  };
  api_.on_watch = [](const http::Request&, size_t i) {
    if (i == 0) {
      // The watch cache's way of saying the version is gone: HTTP 200 and one ERROR event.
      return hold(chunk(event_line("ADDED", pod("b", "11")) +
                        event_line("ERROR", podid::testing::status(410, "Expired", "too old resource version: 11"))));
    }
    return hold();
  };
  start();
  ASSERT_TRUE(until([&] { return api_.watch_targets.size() == 2; }));
  EXPECT_EQ(api_.list_targets.size(), 2u);
  EXPECT_EQ(recorder_.replaces, (std::vector<std::vector<std::string>>{{"a"}, {"a", "z"}}));
  EXPECT_EQ(recorder_.events, (std::vector<std::string>{"ADDED b@11"}));
  EXPECT_EQ(query_param(api_.watch_targets[1], "resourceVersion"), "30");
  EXPECT_EQ(reflector_->stats().relists_gone, 1u);
  EXPECT_EQ(reflector_->stats().lists, 2u);
  EXPECT_EQ(reflector_->stats().failures, 0u);
}

TEST_F(ReflectorTest, Status410Relists) {
  api_.on_list = [](const http::Request&, size_t i) {
    return once(http_response(200, list_body({pod("a", "5")}, i == 0 ? "10" : "40")));
  };
  api_.on_watch = [](const http::Request&, size_t i) { return i == 0 ? error_status(410) : hold(); };
  start();
  ASSERT_TRUE(until([&] { return api_.watch_targets.size() == 2; }));
  EXPECT_EQ(api_.list_targets.size(), 2u);
  EXPECT_EQ(query_param(api_.watch_targets[1], "resourceVersion"), "40");
  EXPECT_EQ(reflector_->stats().relists_gone, 1u);
  EXPECT_EQ(reflector_->stats().failures, 0u);
}

TEST_F(ReflectorTest, DroppedWatchResumesFromTheLastVersionWithoutRelisting) {
  api_.on_list = [](const http::Request&, size_t) {
    return once(http_response(200, list_body({pod("a", "5")}, "10")));
  };
  api_.on_watch = [](const http::Request&, size_t i) {
    if (i == 0) return hold(chunk(event_line("ADDED", pod("b", "11"))));
    return hold(chunk(event_line("BOOKMARK", bookmark("11")) + event_line("MODIFIED", pod("b", "12"))));
  };
  start();
  ASSERT_TRUE(until([&] { return recorder_.events.size() == 1; }));
  server_->drop_all();  // cut without the closing chunk
  ASSERT_TRUE(until([&] { return recorder_.events.size() == 2; }));
  ASSERT_EQ(api_.watch_targets.size(), 2u);
  EXPECT_EQ(query_param(api_.watch_targets[1], "resourceVersion"), "11");
  EXPECT_EQ(api_.list_targets.size(), 1u) << "a dropped watch is resumed, not relisted";
  EXPECT_EQ(recorder_.replaces.size(), 1u);
  EXPECT_EQ(recorder_.events, (std::vector<std::string>{"ADDED b@11", "MODIFIED b@12"}));
  const ReflectorStats& s = reflector_->stats();
  EXPECT_EQ(s.failures, 1u);
  EXPECT_FALSE(s.last_error.empty());
  EXPECT_TRUE(s.connected);
}

TEST_F(ReflectorTest, FailuresBackOffAndKeepTheConsumersCopy) {
  api_.on_list = [](const http::Request&, size_t i) {
    if (i < 2) return error_status(500);
    return once(http_response(200, list_body({pod("a", "5")}, "10")));
  };
  api_.on_watch = [](const http::Request&, size_t i) {
    if (i < 3) return error_status(503);
    return hold(chunk(event_line("MODIFIED", pod("a", "11"))));
  };
  start({.backoff_initial = 60ms, .backoff_max = 1000ms});
  ASSERT_TRUE(until([&] { return recorder_.events.size() == 1; }));

  ASSERT_EQ(api_.list_times.size(), 3u);
  // Jittered into [d/2, d]: at least 30 ms, then at least 60 ms.
  EXPECT_GE(api_.list_times[1] - api_.list_times[0], 29ms);
  EXPECT_GE(api_.list_times[2] - api_.list_times[1], 59ms);
  ASSERT_EQ(api_.watch_targets.size(), 4u);
  for (const auto& t : api_.watch_targets) EXPECT_EQ(query_param(t, "resourceVersion"), "10");
  EXPECT_EQ(recorder_.replaces, (std::vector<std::vector<std::string>>{{"a"}})) << "failures never clear the copy";
  const ReflectorStats& s = reflector_->stats();
  EXPECT_EQ(s.failures, 5u);
  EXPECT_EQ(s.lists, 1u);
  EXPECT_NE(s.last_error.find("HTTP 503"), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find("status 503"), std::string::npos) << s.last_error;
  EXPECT_TRUE(s.connected);
}

TEST_F(ReflectorTest, UnreachableServerIsAFailureNotASync) {
  api_.on_list = [](const http::Request&, size_t) { return error_status(500); };
  api_.on_watch = [](const http::Request&, size_t) { return hold(); };
  start();
  ASSERT_TRUE(until([&] { return reflector_->stats().failures >= 2; }));
  EXPECT_FALSE(reflector_->stats().synced);
  EXPECT_FALSE(reflector_->stats().connected);
  EXPECT_TRUE(recorder_.replaces.empty());
  EXPECT_TRUE(api_.watch_targets.empty()) << "no watch without a listed version";
}

TEST_F(ReflectorTest, StopClosesTheWatchAndNothingIsDeliveredAfterIt) {
  api_.on_list = [](const http::Request&, size_t) { return once(http_response(200, list_body({}, "10"))); };
  api_.on_watch = [](const http::Request&, size_t) {
    // An event that would arrive after stop(): it must not reach the handler.
    return Reply{{Step{chunked_head() + chunk(event_line("BOOKMARK", bookmark("10")))},
                  Step{chunk(event_line("ADDED", pod("late", "11"))), 300ms}},
                 Reply::End::kHold};
  };
  start();
  ASSERT_TRUE(until([&] { return reflector_->stats().connected && server_->open_connections() == 1; }));
  EXPECT_EQ(recorder_.replaces, (std::vector<std::vector<std::string>>{{}}));
  reflector_->stop();
  reflector_->stop();  // twice is fine
  // The consumer and the client go away at once, as an agent shutting down would do.
  reflector_.reset();
  client_.reset();
  EXPECT_TRUE(until([&] { return server_->open_connections() == 0; }, 1s)) << "the watch connection stays open";
  until([] { return false; }, 500ms);  // past the late event
  EXPECT_TRUE(recorder_.events.empty());
  EXPECT_EQ(api_.watch_targets.size(), 1u);
}

TEST_F(ReflectorTest, StopEndsABackoffSleepAtOnce) {
  api_.on_list = [](const http::Request&, size_t) { return error_status(500); };
  api_.on_watch = [](const http::Request&, size_t) { return hold(); };
  start({.backoff_initial = 20000ms, .backoff_max = 20000ms});
  ASSERT_TRUE(until([&] { return reflector_->stats().failures == 1; }));
  reflector_->stop();
  server_.reset();  // nothing else left to do for io_ once the reflector has ended
  auto started = std::chrono::steady_clock::now();
  io_.restart();
  io_.run_for(5s);  // returns as soon as io_ has no work, i.e. when the sleeping loop has ended
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(api_.list_targets.size(), 1u);
}

TEST_F(ReflectorTest, StopBeforeStartNeverRuns) {
  api_.on_list = [](const http::Request&, size_t) { return once(http_response(200, list_body({}, "1"))); };
  api_.on_watch = [](const http::Request&, size_t) { return hold(); };
  server_ = std::make_unique<ScriptServer>(io_, api_.script());
  ClusterConfig config;
  config.server = http::Url::parse(server_->url()).value();
  ApiClient client(io_.get_executor(), config, "t");
  Reflector reflector(io_.get_executor(), client, {.name = "pods", .collection_path = "/api/v1/pods"},
                      recorder_.handler());
  reflector.stop();
  reflector.start();
  until([] { return false; }, 200ms);
  EXPECT_TRUE(api_.list_targets.empty());
  EXPECT_FALSE(reflector.stats().synced);
}

}  // namespace
}  // namespace podid::k8s
