// SPDX-License-Identifier: Apache-2.0
// ApiClient against a scripted server: headers on the wire, JSON both ways, statuses passed through,
// token file rotation, watch event parsing.
#include "podid/k8s/api_client.h"
#include "podid/encoding/percent.h"

#include <gtest/gtest.h>

#include "k8s_fixtures.h"
#include "run_until.h"
#include "script_server.h"
#include "temp_dir.h"

namespace podid::k8s {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using nlohmann::json;
using podid::testing::chunk;
using podid::testing::chunked_head;
using podid::testing::event_line;
using podid::testing::http_response;
using podid::testing::kLastChunk;
using podid::testing::Reply;
using podid::testing::run_task;
using podid::testing::ScriptServer;
using podid::testing::Step;
using podid::testing::TempDir;

Reply once(std::string bytes) { return Reply{{Step{std::move(bytes)}}}; }

ClusterConfig config_for(const ScriptServer& server, const std::string& prefix = "") {
  ClusterConfig c;
  c.server = http::Url::parse(server.url(prefix.empty() ? "/" : prefix)).value();
  c.bearer_token = "fixed-token";
  return c;
}

TEST(ApiClient, GetSendsAuthAndAcceptAndParsesJson) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) {
    return once(http_response(200, R"({"kind":"Pod","metadata":{"name":"web"}})"));
  });
  ApiClient api(io.get_executor(), config_for(server), "podid-agent/test");
  auto res = run_task(io, api.get("/api/v1/namespaces/default/pods/web"));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_TRUE(res->ok());
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body["metadata"]["name"], "web");
  const auto& req = server.requests().at(0);
  EXPECT_EQ(req.target(), "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(req[bhttp::field::authorization], "Bearer fixed-token");
  EXPECT_EQ(req[bhttp::field::accept], "application/json");
  EXPECT_EQ(req[bhttp::field::user_agent], "podid-agent/test");
}

TEST(ApiClient, ServerPathPrefixIsKept) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) { return once(http_response(200, "{}")); });
  ApiClient api(io.get_executor(), config_for(server, "/k8s/clusters/c-1/"), "t");
  auto res = run_task(io, api.get("/api/v1/pods?limit=1"));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(server.requests().at(0).target(), "/k8s/clusters/c-1/api/v1/pods?limit=1");
}

TEST(ApiClient, NoTokenNoAuthorizationHeader) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) { return once(http_response(200, "{}")); });
  ClusterConfig c = config_for(server);
  c.bearer_token.clear();
  ApiClient api(io.get_executor(), c, "t");
  auto res = run_task(io, api.get("/version"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(server.requests().at(0).count(bhttp::field::authorization), 0u);
}

TEST(ApiClient, ErrorStatusComesBackWithTheStatusMessage) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) {
    return once(http_response(
        403, podid::testing::status(403, "Forbidden", "pods is forbidden: User \"u\" cannot list resource").dump()));
  });
  ApiClient api(io.get_executor(), config_for(server), "t");
  auto res = run_task(io, api.get("/api/v1/pods"));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_FALSE(res->ok());
  EXPECT_EQ(res->status, 403u);
  EXPECT_EQ(res->message(), "pods is forbidden: User \"u\" cannot list resource");
}

TEST(ApiClient, NonJsonBodies) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request& req, size_t) {
    if (req.target() == "/ok") return once(http_response(200, "<html>hi</html>", "text/html"));
    if (req.target() == "/empty") return once(http_response(200, ""));
    return once(http_response(502, "<html>Bad Gateway</html>", "text/html"));
  });
  ApiClient api(io.get_executor(), config_for(server), "t");

  auto ok = run_task(io, api.get("/ok"));
  ASSERT_FALSE(ok.ok()) << "a 200 that is not JSON is an unparsable body";
  EXPECT_EQ(ok.error().code, std::errc::bad_message);

  auto empty = run_task(io, api.get("/empty"));
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_TRUE(empty->body.is_null());

  auto proxy = run_task(io, api.get("/proxy"));
  ASSERT_TRUE(proxy.ok()) << proxy.error().message();
  EXPECT_EQ(proxy->status, 502u);
  EXPECT_EQ(proxy->message(), "HTTP 502: <html>Bad Gateway</html>");
}

TEST(ApiClient, RequestSendsJsonWithItsContentType) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request& req, size_t) { return once(http_response(200, req.body())); });
  ApiClient api(io.get_executor(), config_for(server), "t");
  json patch = {{"metadata", {{"labels", {{"a", "b"}}}}}};
  auto res = run_task(io, api.request(bhttp::verb::patch, "/api/v1/namespaces/default/pods/web", patch,
                                      "application/merge-patch+json"));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->body, patch);
  const auto& req = server.requests().at(0);
  EXPECT_EQ(req.method(), bhttp::verb::patch);
  EXPECT_EQ(req[bhttp::field::content_type], "application/merge-patch+json");
  EXPECT_EQ(json::parse(req.body()), patch);

  auto del = run_task(io, api.request(bhttp::verb::delete_, "/api/v1/namespaces/default/pods/web", nullptr));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(server.requests().at(1).count(bhttp::field::content_type), 0u);
  EXPECT_TRUE(server.requests().at(1).body().empty());
}

TEST(ApiClient, TokenFileIsReReadWhenItChanges) {
  asio::io_context io;
  TempDir dir;
  auto token = dir.write("token", "first\n");
  ScriptServer server(io, [](const http::Request&, size_t) { return once(http_response(200, "{}")); });
  ClusterConfig c = config_for(server);
  c.token_file = token;
  ApiClient api(io.get_executor(), c, "t");
  auto bearer = [&](size_t i) { return std::string(server.requests().at(i)[bhttp::field::authorization]); };

  ASSERT_TRUE(run_task(io, api.get("/a")).ok());
  EXPECT_EQ(bearer(0), "Bearer first") << "token_file wins over bearer_token";

  // Kubelet swaps the file; make sure the new one has another mtime even on coarse-grained filesystems.
  dir.write("token", "second\n");
  std::filesystem::last_write_time(token, std::filesystem::last_write_time(token) + 2s);
  ASSERT_TRUE(run_task(io, api.get("/b")).ok());
  EXPECT_EQ(bearer(1), "Bearer second");

  // A token file that vanishes: keep the last token rather than go anonymous.
  std::filesystem::remove(token);
  ASSERT_TRUE(run_task(io, api.get("/c")).ok());
  EXPECT_EQ(bearer(2), "Bearer second");
}

TEST(ApiClient, TransportErrorsAreResultErrors) {
  asio::io_context io;
  uint16_t port;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  ClusterConfig c;
  c.server = http::Url::parse("http://127.0.0.1:" + std::to_string(port)).value();
  ApiClient api(io.get_executor(), c, "t");
  auto res = run_task(io, api.get("/api/v1/pods"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, std::errc::connection_refused);
}

TEST(ApiClientWatch, DeliversEventsInOrder) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) {
    std::string lines = event_line("ADDED", podid::testing::pod("a", "11")) +
                        event_line("MODIFIED", podid::testing::pod("a", "12")) +
                        event_line("BOOKMARK", podid::testing::bookmark("13"));
    std::string last = event_line("DELETED", podid::testing::pod("a", "14"));
    return Reply{{Step{chunked_head() + chunk(lines.substr(0, 30))}, Step{chunk(lines.substr(30)), 10ms},
                  Step{chunk(last) + std::string(kLastChunk), 10ms}}};
  });
  ApiClient api(io.get_executor(), config_for(server), "t");
  std::vector<std::pair<WatchEventType, std::string>> got;
  auto res = run_task(io, api.watch("/api/v1/pods?watch=1&resourceVersion=10", [&](const WatchEvent& ev) {
    got.emplace_back(ev.type, ev.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  }));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(got, (std::vector<std::pair<WatchEventType, std::string>>{{WatchEventType::kAdded, "11"},
                                                                      {WatchEventType::kModified, "12"},
                                                                      {WatchEventType::kBookmark, "13"},
                                                                      {WatchEventType::kDeleted, "14"}}));
  EXPECT_EQ(server.requests().at(0)[bhttp::field::authorization], "Bearer fixed-token");
}

TEST(ApiClientWatch, StopsWhenTheConsumerSaysSo) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request&, size_t) {
    return Reply{{Step{chunked_head() + chunk(event_line("ADDED", podid::testing::pod("a", "1")) +
                                              event_line("ADDED", podid::testing::pod("b", "2")))}},
                 Reply::End::kHold};
  });
  ApiClient api(io.get_executor(), config_for(server), "t");
  int n = 0;
  auto res = run_task(io, api.watch("/api/v1/pods?watch=1", [&](const WatchEvent&) { return ++n < 1; }));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(n, 1);
}

TEST(ApiClientWatch, ErrorStatusAndBadLines) {
  asio::io_context io;
  ScriptServer server(io, [](const http::Request& req, size_t) {
    if (podid::testing::path_of(req.target()) == "/gone") {
      return once(http_response(410, podid::testing::status(410, "Expired", "too old resource version").dump()));
    }
    return Reply{{Step{chunked_head() + chunk(event_line("ADDED", podid::testing::pod("a", "1")) + "not json\n")}},
                 Reply::End::kHold};
  });
  ApiClient api(io.get_executor(), config_for(server), "t");
  int n = 0;
  auto gone = run_task(io, api.watch("/gone?watch=1", [&](const WatchEvent&) { return ++n > 0; }));
  ASSERT_TRUE(gone.ok()) << gone.error().message();
  EXPECT_EQ(gone->status, 410u);
  EXPECT_EQ(gone->message(), "too old resource version");
  EXPECT_EQ(n, 0);

  auto bad = run_task(io, api.watch("/bad?watch=1", [&](const WatchEvent&) { return ++n > 0; }));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, std::errc::bad_message);
  EXPECT_NE(bad.error().context.find("not json"), std::string::npos) << bad.error().message();
  EXPECT_EQ(n, 1);
}

TEST(ParseWatchEvent, AcceptsTheFiveTypes) {
  const std::pair<const char*, WatchEventType> cases[] = {{"ADDED", WatchEventType::kAdded},
                                                          {"MODIFIED", WatchEventType::kModified},
                                                          {"DELETED", WatchEventType::kDeleted},
                                                          {"BOOKMARK", WatchEventType::kBookmark},
                                                          {"ERROR", WatchEventType::kError}};
  for (const auto& [text, type] : cases) {
    auto ev = parse_watch_event(std::string(R"({"type":")") + text + R"(","object":{"kind":"Pod"}})");
    ASSERT_TRUE(ev.ok()) << text;
    EXPECT_EQ(ev->type, type);
    EXPECT_EQ(ev->object["kind"], "Pod");
  }
}

TEST(ParseWatchEvent, RefusesMalformedLines) {
  for (const char* line : {"", "[]", "{}", R"({"type":"ADDED"})", R"({"type":"ADDED","object":[]})",
                           R"({"type":7,"object":{}})", R"({"type":"SYNC","object":{}})", "{\"type\":\"ADDED\","}) {
    auto ev = parse_watch_event(line);
    ASSERT_FALSE(ev.ok()) << line;
    EXPECT_EQ(ev.error().code, std::errc::bad_message);
  }
}

TEST(QueryEscape, EscapesSelectorSyntax) {
  EXPECT_EQ(encoding::percent_encode("spec.nodeName=node-1"), "spec.nodeName%3Dnode-1");
  EXPECT_EQ(encoding::percent_encode("app in (a,b),!tier"), "app%20in%20%28a%2Cb%29%2C%21tier");
  EXPECT_EQ(encoding::percent_encode("a_b-c.d~"), "a_b-c.d~");
  EXPECT_EQ(encoding::percent_encode("ü"), "%C3%BC");
}

}  // namespace
}  // namespace podid::k8s
