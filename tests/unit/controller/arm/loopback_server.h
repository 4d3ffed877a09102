// SPDX-License-Identifier: Apache-2.0
//
// A fake Azure endpoint (ARM, IMDS, Entra ID) for controller unit tests: podid's own http::Server on
// 127.0.0.1, port chosen at run time. It records every request with the time it arrived and answers whatever
// the test's function returns for it, after an optional delay (to make a client time out).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "podid/http/client.h"
#include "podid/http/server.h"

namespace podid::controller::testing {

struct Seen {
  http::Request request;
  std::chrono::steady_clock::time_point at;
};

// A response with a body and extra headers.
inline http::Response respond(unsigned status, std::string body,
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Response res{static_cast<http::Status>(status), 11};
  res.set(boost::beast::http::field::content_type, "application/json; charset=utf-8");
  for (auto& [name, value] : headers) res.set(name, value);
  res.body() = std::move(body);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

class LoopbackServer {
 public:
  // `index` counts requests from 0.
  using Answer = std::function<http::Response(const http::Request& request, size_t index)>;

  LoopbackServer(boost::asio::io_context& io, Answer answer) : answer(std::move(answer)), server_(io) {
    auto bound = server_.listen(
        {boost::asio::ip::make_address("127.0.0.1"), 0},
        [this](http::tcp::socket&) -> http::Handler {
          return [this](const http::Request& req) { return serve(req); };
        },
        "fake-azure");
    if (!bound) throw std::runtime_error("fake server: " + bound.error().message());
    port_ = bound->port();
  }
  ~LoopbackServer() { server_.stop(); }

  uint16_t port() const { return port_; }
  std::string url(std::string_view target = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
  }
  http::Url base(std::string_view target = "/") const { return http::Url::parse(url(target)).value(); }
  const std::vector<Seen>& seen() const { return seen_; }

  Answer answer;
  std::chrono::milliseconds delay{0};  // before every answer

 private:
  boost::asio::awaitable<http::Response> serve(http::Request req) {
    const size_t index = seen_.size();
    seen_.push_back({req, std::chrono::steady_clock::now()});
    if (delay.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return answer(req, index);
  }

  http::Server server_;
  uint16_t port_ = 0;
  std::vector<Seen> seen_;
};

}  // namespace podid::controller::testing
