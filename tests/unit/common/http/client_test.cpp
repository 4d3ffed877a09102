// SPDX-License-Identifier: Apache-2.0
// http::Client over plain HTTP against a scripted server on loopback: what goes on the wire, what comes back,
// and every way an exchange can fail.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "podid/http/client.h"
#include "run_until.h"
#include "script_server.h"

namespace podid::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using namespace std::chrono_literals;
using podid::testing::chunk;
using podid::testing::chunked_head;
using podid::testing::http_response;
using podid::testing::kLastChunk;
using podid::testing::Reply;
using podid::testing::run_task;
using podid::testing::ScriptServer;
using podid::testing::Step;

std::error_code code(beast::error e) { return beast::error_code(e); }
std::error_code code(bhttp::error e) { return beast::error_code(e); }

Reply once(std::string bytes) { return Reply{{Step{std::move(bytes)}}}; }

Request get() { return Request{bhttp::verb::get, "/", 11}; }

Url url_of(const ScriptServer& server, std::string_view target = "/") { return Url::parse(server.url(target)).value(); }

struct Lines {
  std::vector<std::string> got;
  std::function<bool(std::string_view)> fn(size_t stop_after = SIZE_MAX) {
    return [this, stop_after](std::string_view line) {
      got.emplace_back(line);
      return got.size() < stop_after;
    };
  }
};

TEST(HttpClient, SendsTheRequestAndReturnsTheResponse) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once(http_response(200, R"({"ok":true})")); });
  Client client(io.get_executor(), {.timeout = 5s, .user_agent = "podid-test"});
  Request req{bhttp::verb::post, "/ignored", 11};
  req.set(bhttp::field::content_type, "text/plain");
  req.body() = "payload";

  auto res = run_task(io, client.send(url_of(server, "/metadata/x?api-version=1"), req));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), R"({"ok":true})");

  ASSERT_EQ(server.requests().size(), 1u);
  const Request& got = server.requests()[0];
  EXPECT_EQ(got.method(), bhttp::verb::post);
  EXPECT_EQ(got.target(), "/metadata/x?api-version=1");
  EXPECT_EQ(got[bhttp::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(got[bhttp::field::user_agent], "podid-test");
  EXPECT_EQ(got[bhttp::field::content_length], "7");
  EXPECT_EQ(got[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(got.body(), "payload");
  EXPECT_EQ(got.count("X-Forwarded-For"), 0u);
  EXPECT_EQ(got.count(bhttp::field::forwarded), 0u);
}

TEST(HttpClient, KeepsTheCallersUserAgent) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once(http_response(204, "")); });
  Client client(io.get_executor(), {.timeout = 5s});
  Request req = get();
  req.set(bhttp::field::user_agent, "azure-sdk/1.0");
  auto res = run_task(io, client.send(url_of(server), req));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result_int(), 204);
  EXPECT_EQ(server.requests().at(0)[bhttp::field::user_agent], "azure-sdk/1.0");
}

TEST(HttpClient, ErrorStatusIsASuccessfulResult) {
  asio::io_context io;
  ScriptServer server(
      io, [](const Request&, size_t) { return once(http_response(404, R"({"kind":"Status","code":404})")); });
  Client client(io.get_executor(), {.timeout = 5s});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result(), Status::not_found);
  EXPECT_EQ(res->body(), R"({"kind":"Status","code":404})");
}

TEST(HttpClient, ReadsAChunkedBodyWhole) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{chunked_head() + chunk("hel")}, Step{chunk("lo") + std::string(kLastChunk), 20ms}}};
  });
  Client client(io.get_executor(), {.timeout = 5s});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->body(), "hello");
}

TEST(HttpClient, ResolvesHostNames) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once(http_response(200, "ok")); });
  Client client(io.get_executor(), {.timeout = 5s});
  auto url = Url::parse("http://localhost:" + std::to_string(server.port()) + "/").value();
  auto res = run_task(io, client.send(url, get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->body(), "ok");
  EXPECT_EQ(server.requests().at(0)[bhttp::field::host], "localhost:" + std::to_string(server.port()));
}

TEST(HttpClient, SilentServerTimesOut) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return Reply{{}, Reply::End::kHold}; });
  Client client(io.get_executor(), {.timeout = 200ms});
  auto started = std::chrono::steady_clock::now();
  auto res = run_task(io, client.send(url_of(server, "/slow"), get()));
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(beast::error::timeout)) << res.error().message();
  EXPECT_NE(res.error().context.find("GET http://127.0.0.1:" + std::to_string(server.port()) + "/slow"),
            std::string::npos)
      << res.error().context;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
}

TEST(HttpClient, DeadlineCoversTheWholeExchangeNotEachRead) {
  // A server trickling a byte every 10 ms is never silent for long, but the exchange takes far over 300 ms.
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    Reply r;
    for (char c : http_response(200, "0123456789")) r.steps.push_back(Step{std::string(1, c), 10ms});
    return r;
  });
  Client client(io.get_executor(), {.timeout = 300ms});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(beast::error::timeout)) << res.error().message();
}

TEST(HttpClient, BodyOverTheLimitIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request& req, size_t) {
    if (req.target() == "/fixed") return once(http_response(200, "12345678901"));
    return once(chunked_head() + chunk("123456") + chunk("78901") + std::string(kLastChunk));
  });
  Client client(io.get_executor(), {.timeout = 5s, .max_body_bytes = 10});
  for (const char* target : {"/fixed", "/chunked"}) {
    auto res = run_task(io, client.send(url_of(server, target), get()));
    ASSERT_FALSE(res.ok()) << target;
    EXPECT_EQ(res.error().code, code(bhttp::error::body_limit)) << res.error().message();
  }
}

TEST(HttpClient, BodyAtTheLimitIsFine) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once(http_response(200, "1234567890")); });
  Client client(io.get_executor(), {.timeout = 5s, .max_body_bytes = 10});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->body(), "1234567890");
}

TEST(HttpClient, ConnectionClosedMidBodyIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    std::string full = http_response(200, std::string(100, 'x'));
    return once(full.substr(0, full.size() - 50));
  });
  Client client(io.get_executor(), {.timeout = 5s});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(bhttp::error::partial_message)) << res.error().message();
}

TEST(HttpClient, ConnectionRefusedIsAnError) {
  asio::io_context io;
  uint16_t port;
  {
    // A port that was free a moment ago and has nobody listening now.
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  Client client(io.get_executor(), {.timeout = 5s});
  auto res = run_task(io, client.send(Url::parse("http://127.0.0.1:" + std::to_string(port) + "/").value(), get()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, std::errc::connection_refused) << res.error().message();
  EXPECT_NE(res.error().context.find("connect"), std::string::npos);
}

TEST(HttpClient, GarbageResponseIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once("SSH-2.0-OpenSSH_9.2\r\n"); });
  Client client(io.get_executor(), {.timeout = 5s});
  auto res = run_task(io, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
}

TEST(HttpClientStream, LinesArriveWhateverTheChunking) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    // Lines split across chunks, a chunk's own framing split across writes, CRLF and a final partial line.
    std::string c2 = chunk(":2}\r\n{\"c\":3}\n");
    return Reply{{Step{chunked_head() + chunk("{\"a\":1}\n{\"b\"")}, Step{c2.substr(0, 3), 20ms},
                  Step{c2.substr(3), 20ms}, Step{chunk("\n{\"d\"") + chunk(":4}"), 20ms},
                  Step{std::string(kLastChunk), 20ms}}};
  });
  Client client(io.get_executor(), {.timeout = 5s});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server, "/watch"), get(), lines.fn()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_TRUE(res->body().empty());
  EXPECT_EQ(res->at(bhttp::field::content_type), "application/json");
  EXPECT_EQ(lines.got, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "", "{\"d\":4}"}));
}

TEST(HttpClientStream, CloseDelimitedBody) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst\n"}, Step{"second\n", 20ms}}};
  });
  Client client(io.get_executor(), {.timeout = 5s});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(lines.got, (std::vector<std::string>{"first", "second"}));
}

TEST(HttpClientStream, TimeoutIsTheLongestSilenceNotTheTotal) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    Reply r{{Step{chunked_head()}}};
    for (int i = 0; i < 6; ++i) r.steps.push_back(Step{chunk("line" + std::to_string(i) + "\n"), 100ms});
    r.steps.push_back(Step{std::string(kLastChunk)});
    return r;
  });
  Client client(io.get_executor(), {.timeout = 350ms});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(lines.got.size(), 6u);
}

TEST(HttpClientStream, SilenceLongerThanTheTimeoutIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{chunked_head() + chunk("hello\n")}}, Reply::End::kHold};
  });
  Client client(io.get_executor(), {.timeout = 200ms});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(beast::error::timeout)) << res.error().message();
  EXPECT_EQ(lines.got, (std::vector<std::string>{"hello"}));
}

TEST(HttpClientStream, DroppedStreamIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) { return once(chunked_head() + chunk("one\ntw")); });
  Client client(io.get_executor(), {.timeout = 5s});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(bhttp::error::partial_message)) << res.error().message();
  EXPECT_EQ(lines.got, (std::vector<std::string>{"one"}));  // the cut line is not delivered
}

TEST(HttpClientStream, ConsumerCanStopTheStream) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{chunked_head() + chunk("a\nb\nc\n")}}, Reply::End::kHold};
  });
  Client client(io.get_executor(), {.timeout = 5s});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn(2)));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(lines.got, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(podid::testing::run_until(io, [&] { return server.open_connections() == 0; }))
      << "the client should have closed its connection";
}

TEST(HttpClientStream, ErrorStatusIsReturnedWithItsBody) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{chunked_head(410) + chunk("{\"kind\":\"Status\",")},
                  Step{chunk("\"code\":410}") + std::string(kLastChunk), 20ms}}};
  });
  Client client(io.get_executor(), {.timeout = 5s});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->result_int(), 410);
  EXPECT_EQ(res->body(), "{\"kind\":\"Status\",\"code\":410}");
  EXPECT_TRUE(lines.got.empty());
}

TEST(HttpClientStream, ErrorBodyOverTheLimitIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request& req, size_t) {
    if (req.target() == "/fixed") return once(http_response(500, std::string(40, 'x')));
    return once(chunked_head(500) + chunk(std::string(20, 'x')) + chunk(std::string(20, 'x')) +
                std::string(kLastChunk));
  });
  Client client(io.get_executor(), {.timeout = 5s, .max_body_bytes = 32});
  for (const char* target : {"/fixed", "/chunked"}) {
    auto res = run_task(io, client.stream_lines(url_of(server, target), get(), [](std::string_view) { return true; }));
    ASSERT_FALSE(res.ok()) << target;
    EXPECT_EQ(res.error().code, code(bhttp::error::body_limit)) << res.error().message();
  }
}

TEST(HttpClientStream, LineOverTheLimitIsAnError) {
  asio::io_context io;
  ScriptServer server(io, [](const Request&, size_t) {
    return Reply{{Step{chunked_head() + chunk("short\n" + std::string(20, 'y'))},
                  Step{chunk(std::string(20, 'y') + "\n") + std::string(kLastChunk), 20ms}}};
  });
  Client client(io.get_executor(), {.timeout = 5s, .max_body_bytes = 32});
  Lines lines;
  auto res = run_task(io, client.stream_lines(url_of(server), get(), lines.fn()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, code(bhttp::error::body_limit)) << res.error().message();
  EXPECT_EQ(lines.got, (std::vector<std::string>{"short"}));
}

}  // namespace
}  // namespace podid::http
