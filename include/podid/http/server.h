// SPDX-License-Identifier: Apache-2.0
//
// A small HTTP/1.1 server on Boost.Beast and C++20 coroutines, shared by the agent and the controller.
//
// Every accepted connection first goes to a ConnectionHandler, before a byte is read: that is where the agent
// decides who is calling (from the kernel's record of the socket) and returns the request handler bound to
// that answer. Handlers are coroutines, because a token may need an upstream call; what they decide is done
// by pure functions (request in, response out) tested without sockets. A ConnectionHandler may return an
// empty Handler to close the connection at once (over a per-caller connection limit).
//
// Limits on every read: a timer (kReadTimeout) and header and body limits; a client that exceeds them is
// answered 400/413 or dropped. One io_context thread runs every session, which makes it the strand each
// connection needs. Every co_spawn has a completion handler that logs.
//
// Errors: listen() returns Result; per-connection failures are logged and counted by the caller's hooks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "podid/result.h"

namespace podid::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Status = boost::beast::http::status;
using tcp = boost::asio::ip::tcp;

inline constexpr std::chrono::seconds kReadTimeout{10};
inline constexpr std::chrono::seconds kWriteTimeout{10};
inline constexpr uint32_t kMaxHeaderBytes = 8 * 1024;
inline constexpr uint64_t kMaxBodyBytes = 16 * 1024;  // IMDS requests are GETs; nothing legitimate is larger

using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;
using ConnectionHandler = std::function<Handler(tcp::socket&)>;

// A Handler from a synchronous function (most answers need no I/O).
Handler sync_handler(std::function<Response(const Request&)> fn);

// A JSON response with the request's HTTP version and keep-alive.
Response json_response(const Request& req, Status status, std::string body);
Response text_response(const Request& req, Status status, std::string body, std::string content_type);

class Server {
 public:
  explicit Server(boost::asio::io_context& io);
  ~Server();

  // Binds `at` (port 0: any free port) and serves it. Returns the bound endpoint.
  Result<tcp::endpoint> listen(const tcp::endpoint& at, ConnectionHandler on_connection, std::string name);

  // Stops accepting; sessions in flight finish the request they are serving, then close.
  void stop();

  // Sessions open now (for metrics and graceful shutdown).
  size_t open_sessions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::http
