// SPDX-License-Identifier: Apache-2.0
//
// A loopback upstream for the token sources' tests: a few lines of Beast (not the agent's http::Server, so the
// tests check the sources, not the server) that record each request and answer what the test set; and helpers to
// read what the sources sent.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fakes.h"
#include "podid/azure/token_source.h"
#include "podid/http/client.h"
#include "test_pki.h"

namespace podid::azure::testing {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;

inline std::map<std::string, std::string> parse_form(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i] == '+' ? ' ' : s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::string_view rest = body;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

inline nlohmann::json claims_of(const std::string& jwt) {
  auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
  return nlohmann::json::parse(b64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)));
}

inline http::Response respond(bh::status status, std::string body, std::string type = "application/json; charset=utf-8") {
  http::Response res{status, 11};
  res.set(bh::field::content_type, type);
  res.body() = std::move(body);
  return res;
}

// A loopback upstream that records each request and answers what the test set. Its own few lines of Beast
// rather than http::Server, so these tests check the sources, not the agent's server.
class UpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acceptor.open(asio::ip::tcp::v4());
    acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    asio::co_spawn(io, serve(), asio::detached);
  }

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      boost::beast::flat_buffer buffer;
      http::Request req;
      auto [rec, n] = co_await bh::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
      if (rec) continue;
      requests.push_back(req);
      http::Response res = answer(req);
      res.version(11);
      res.keep_alive(false);
      res.prepare_payload();
      co_await bh::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
      boost::system::error_code ignored;
      socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    }
  }

  http::Url base() { return http::Url::parse("http://127.0.0.1:" + std::to_string(port)).value(); }

  TokenOutcome fetch(TokenSource& source, const std::string& resource, const FetchContext& context = {}) {
    std::optional<TokenOutcome> out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          out = co_await source.fetch(resource, context);
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    EXPECT_TRUE(out.has_value()) << "fetch did not finish";
    return out.value_or(UpstreamFailure{});
  }

  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  http::Client client{io.get_executor(), http::ClientOptions{.timeout = 5s}};
  uint16_t port = 0;
  FakeClock clock;
  std::vector<http::Request> requests;
  std::function<http::Response(const http::Request&)> answer = [](const http::Request&) {
    return respond(bh::status::internal_server_error, "{}");
  };
};

}  // namespace podid::azure::testing
