// SPDX-License-Identifier: Apache-2.0
// Paged lists parsed as they stream: a consumer that takes objects one by one (list_item / list_end) across
// page boundaries, a 410 Gone in the middle of the pages (the continue token outlived the server's history),
// a failing page, and the page parser itself (ApiClient's parse_list_page).
#include <gtest/gtest.h>

#include "podid/k8s/api_client.h"
#include "reflector_fixture.h"

namespace podid::k8s {
namespace {

using namespace testing;
using podid::testing::event_line;
using podid::testing::list_body;
using podid::testing::pod;

// Records what a streaming consumer is handed: "item a", "end true".
struct StreamRecorder {
  std::vector<std::string> calls;
  std::vector<std::string> events;

  ReflectorHandler handler() {
    return ReflectorHandler{
        .event = [this](WatchEventType, const json& o) { events.push_back(o["metadata"]["name"]); },
        .list_item = [this](json&& o) { calls.push_back("item " + o["metadata"]["name"].get<std::string>()); },
        .list_end = [this](bool complete) { calls.push_back(complete ? "end true" : "end false"); },
    };
  }
};

class ReflectorPagingTest : public ReflectorFixture {
 protected:
  ReflectorHandler handler() override { return recorder_.handler(); }
  StreamRecorder recorder_;
};

using Calls = std::vector<std::string>;

TEST_F(ReflectorPagingTest, ObjectsArriveOneByOneAcrossPageBoundaries) {
  api_.on_list = [](const http::Request& req, size_t i) {
    auto cont = query_param(req.target(), "continue");
    if (i == 0 && !cont) return once(http_response(200, list_body({pod("a", "5"), pod("b", "6")}, "10", "t1")));
    if (i == 1 && cont == "t1") return once(http_response(200, list_body({pod("c", "7")}, "10", "t2")));
    if (i == 2 && cont == "t2") return once(http_response(200, list_body({pod("d", "8"), pod("e", "9")}, "10")));
    return error_status(400);
  };
  api_.on_watch = [](const http::Request&, size_t) { return hold(chunk(event_line("ADDED", pod("f", "11")))); };
  start();
  ASSERT_TRUE(until([&] { return recorder_.events.size() == 1; }));
  EXPECT_EQ(recorder_.calls, (Calls{"item a", "item b", "item c", "item d", "item e", "end true"}));
  ASSERT_EQ(api_.list_targets.size(), 3u);
  for (const auto& t : api_.list_targets) EXPECT_EQ(query_param(t, "limit"), "500");
  EXPECT_EQ(query_param(api_.watch_targets.at(0), "resourceVersion"), "10");
  EXPECT_EQ(reflector_->stats().lists, 1u);
  EXPECT_TRUE(reflector_->stats().synced);
}

TEST_F(ReflectorPagingTest, GoneMidPaginationDropsThePartAndListsAgainFromTheFirstPage) {
  api_.on_list = [](const http::Request& req, size_t i) {
    auto cont = query_param(req.target(), "continue");
    if (i == 0) return once(http_response(200, list_body({pod("a", "5")}, "10", "t1")));
    if (i == 1) return error_status(410);  // t1 expired
    if (i == 2 && !cont) return once(http_response(200, list_body({pod("a", "5")}, "20", "t9")));
    if (i == 3 && cont == "t9") return once(http_response(200, list_body({pod("z", "19")}, "20")));
    return error_status(400);
  };
  api_.on_watch = [](const http::Request&, size_t) { return hold(); };
  start();
  ASSERT_TRUE(until([&] { return api_.watch_targets.size() == 1; }));
  EXPECT_EQ(recorder_.calls, (Calls{"item a", "end false", "item a", "item z", "end true"}));
  EXPECT_EQ(query_param(api_.list_targets.at(2), "continue"), std::nullopt) << "a fresh list, not a resumed one";
  EXPECT_EQ(query_param(api_.watch_targets.at(0), "resourceVersion"), "20");
  const ReflectorStats& s = reflector_->stats();
  EXPECT_EQ(s.relists_gone, 1u);
  EXPECT_EQ(s.lists, 1u);
  EXPECT_TRUE(s.synced);
}

TEST_F(ReflectorPagingTest, FailingPageEndsThePartialListAndTheConsumerKeepsItsCopy) {
  api_.on_list = [](const http::Request&, size_t i) {
    if (i == 0) return once(http_response(200, list_body({pod("a", "5")}, "10")));
    if (i == 1) return once(http_response(200, list_body({pod("a", "5")}, "30", "t1")));
    if (i == 2) return error_status(500);
    if (i == 3) return once(http_response(200, R"({"metadata":{"resourceVersion":"30"},"items":[1,2]})"));
    return once(http_response(200, list_body({pod("b", "29")}, "30")));
  };
  api_.on_watch = [](const http::Request&, size_t i) { return i == 0 ? error_status(410) : hold(); };
  start();
  ASSERT_TRUE(until([&] { return api_.watch_targets.size() == 2; }));
  EXPECT_EQ(recorder_.calls, (Calls{"item a", "end true", "item a", "end false", "end false", "item b", "end true"}));
  EXPECT_EQ(reflector_->stats().failures, 2u);
  EXPECT_NE(reflector_->stats().last_error.find("something other than objects"), std::string::npos)
      << reflector_->stats().last_error;
}

// --- the page parser ------------------------------------------------------------------------------------------
std::vector<json> parsed_items;
auto collect = [](json&& item) { parsed_items.push_back(std::move(item)); };

TEST(ParseListPage, HandsOutEachItemAndReturnsTheRest) {
  parsed_items.clear();
  auto rest = parse_list_page(
      R"({"kind":"PodList","metadata":{"resourceVersion":"10","continue":"c"},)"
      R"("items":[{"metadata":{"name":"a"},"spec":{"containers":[{"name":"x"}]}},{"metadata":{"name":"b"}}],)"
      R"("extra":[{"not":"an item"}]})",
      collect);
  ASSERT_TRUE(rest.ok()) << rest.error().message();
  ASSERT_EQ(parsed_items.size(), 2u);
  EXPECT_EQ(parsed_items[0], json::parse(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"x"}]}})"));
  EXPECT_EQ(parsed_items[1]["metadata"]["name"], "b");
  EXPECT_EQ(*rest, json::parse(R"({"kind":"PodList","metadata":{"resourceVersion":"10","continue":"c"},)"
                               R"("extra":[{"not":"an item"}]})"));
}

TEST(ParseListPage, EmptyOrNullItemsAreNoItems) {
  parsed_items.clear();
  EXPECT_TRUE(parse_list_page(R"({"metadata":{"resourceVersion":"1"},"items":[]})", collect).ok());
  EXPECT_TRUE(parse_list_page(R"({"metadata":{"resourceVersion":"1"},"items":null})", collect).ok());
  EXPECT_TRUE(parse_list_page(R"({"metadata":{"resourceVersion":"1"}})", collect).ok());
  EXPECT_TRUE(parsed_items.empty());
}

TEST(ParseListPage, RefusesWhatIsNoList) {
  for (const char* body :
       {"not json", "[]", R"({"items":{"a":1}})", R"({"items":[{"a":1},"b"]})", R"({"items":[{"a":1})",
        R"({"items":[{"a":1}],"items":[]})"}) {
    auto rest = parse_list_page(body, [](json&&) {});
    ASSERT_FALSE(rest.ok()) << body;
    EXPECT_EQ(rest.error().code, std::errc::bad_message) << body;
  }
}

}  // namespace
}  // namespace podid::k8s
