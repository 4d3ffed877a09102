// SPDX-License-Identifier: Apache-2.0
//
// A small HTTP/1.1 server on Boost.Beast and C++20 coroutines, shared by the agent and the controller.
//
// Every accepted connection first goes to a ConnectionHandler, before a byte is read: that is where the agent
// decides who is calling (from the kernel's record of the socket) and returns its Admission: the request
// handler bound to that answer, an answer written at once without reading anything (a refusal), or a drop.
// Handlers are coroutines, because a token may need an upstream call; what they decide is done by pure
// functions (request in, response out) tested without sockets.
//
// Every byte a client sends is hostile. Limits on every read: one timer per request (kReadTimeout), a header
// limit, a body limit, and a bounded read buffer, so chunk extensions and trailers (which escape Beast's
// header limit) cannot grow memory or reach Beast's 64 KiB field limit, which throws. Requests are parsed in
// the session's own coroutine, so anything the parser or a handler throws ends that connection, never the
// process; the observer hears of it. Framing that RFC 9112 says a server must refuse is refused with 400 and
// a close: a Transfer-Encoding other than a lone `chunked`, Transfer-Encoding with Content-Length, a missing
// or repeated Host on HTTP/1.1, trailer fields. An absolute-form target is accepted and handed to the
// handler in origin form.
//
// One io_context thread runs every session, which makes it the strand each connection needs. Every
// co_spawn has a completion handler that logs.
//
// Replay (the agent's hot path): a handler may answer with a Replay, which lets the server give the same answer,
// byte for byte, to the next requests of the same connection that are byte-identical to the one answered, without
// parsing them or calling the handler, for as long as Replay::current() says nothing the answer depended on has
// changed. Identical bytes on one connection are the same request from the same caller, parsed the same way: a
// replay is the answer the handler would give, minus the work. The Replay records each answer it gives.
//
// Errors: listen() returns Result; per-connection failures are logged and reported to the ServerObserver.
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
#include <string_view>
#include <variant>

#include "podid/result.h"

namespace podid::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Status = boost::beast::http::status;
using tcp = boost::asio::ip::tcp;

inline constexpr std::chrono::seconds kReadTimeout{10};
inline constexpr std::chrono::seconds kWriteTimeout{10};
// A refusal written without reading the request: short, so a flood of refused connections holds nothing.
inline constexpr std::chrono::seconds kRefusalWriteTimeout{1};
inline constexpr uint32_t kMaxHeaderBytes = 8 * 1024;
inline constexpr uint64_t kMaxBodyBytes = 16 * 1024;  // IMDS requests are GETs; nothing legitimate is larger
// Unparsed bytes held per connection: a whole header, or one chunk-size line, or the trailer section.
inline constexpr size_t kMaxReadBuffer = 16 * 1024;

using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;

// An answer a handler lets the server give again (see "Replay" above). Called on the io_context thread only.
class Replay {
 public:
  virtual ~Replay() = default;
  // False once anything the answer depended on may have changed; the server then asks the handler again.
  virtual bool current() const = 0;
  // The answer was given again, `took` after the request's bytes were there: record it as the handler would
  // (an audit line, metrics).
  virtual void replayed(std::chrono::nanoseconds took) = 0;
};

struct Answer {
  Response response;
  std::shared_ptr<Replay> replay = nullptr;  // null: never given again without asking
};
using ReplayingHandler = std::function<boost::asio::awaitable<Answer>(const Request&)>;
// The largest request a session keeps to compare the next ones with (token requests are ~250 bytes).
inline constexpr size_t kMaxReplayRequestBytes = 2048;

// Close the connection at once, reading and writing nothing. Not an aggregate: an empty aggregate would let
// std::variant's converting constructor pick it for a Handler (brace elision), turning every handler into a
// drop in some translation units.
struct Drop {
  explicit Drop() = default;
};
// Write `response` at once (within kRefusalWriteTimeout), read nothing, close. `hold` is kept until then (a
// slot counting the connection, say).
struct AnswerAndClose {
  Response response;
  std::shared_ptr<void> hold = nullptr;
};
// What a new connection gets: a Handler or a ReplayingHandler serves its requests (an empty one is a Drop).
using Admission = std::variant<Drop, AnswerAndClose, Handler, ReplayingHandler>;
using ConnectionHandler = std::function<Admission(tcp::socket&)>;

// Told of every request the server refused on its own and every session that ended in an exception, with a
// short reason ("header_too_large", "bad_transfer_encoding", "session_exception", "accept_failed", ...). For
// metrics; the server has already logged the failure (throttled: an attacker can cause these at will).
using ServerObserver = std::function<void(std::string_view listener, std::string_view reason)>;

// A Handler from a synchronous function (most answers need no I/O).
Handler sync_handler(std::function<Response(const Request&)> fn);

// A JSON response with the request's HTTP version and keep-alive.
Response json_response(const Request& req, Status status, std::string body);
Response text_response(const Request& req, Status status, std::string body, std::string content_type);

class Server {
 public:
  explicit Server(boost::asio::io_context& io, ServerObserver observer = {});
  ~Server();

  // Binds `at` (port 0: any free port) and serves it. Returns the bound endpoint.
  Result<tcp::endpoint> listen(const tcp::endpoint& at, ConnectionHandler on_connection, std::string name);

  // Stops accepting; sessions in flight finish the request they are serving, then close.
  void stop();

  // Sessions open now (for metrics).
  size_t open_sessions() const;
  // Sessions serving a request now: read, answer not yet written (graceful shutdown waits for these; idle
  // keep-alive sessions it does not).
  size_t busy_sessions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::http
