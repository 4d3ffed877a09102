// SPDX-License-Identifier: Apache-2.0
#include "podid/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <vector>

#include "request_reader.h"
#include "podid/log.h"
#include "podid/spawn.h"

namespace podid::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kAcceptBackoff{50};

Response json_response(const Request& req, Status status, std::string body) {
  return text_response(req, status, std::move(body), "application/json; charset=utf-8");
}

Response text_response(const Request& req, Status status, std::string body, std::string content_type) {
  Response res{status, req.version()};
  res.set(beast::http::field::content_type, content_type);
  res.set(beast::http::field::server, "podid");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

namespace {

using detail::ReadResult;
using detail::Refusal;

// The answer to a request the server refused on its own; the connection closes after it.
Response refusal_response(const Refusal& refusal) {
  Request dummy;
  dummy.version(11);
  auto res = json_response(dummy, refusal.status,
                           R"({"error":"invalid_request","error_description":"malformed request"})");
  res.keep_alive(false);
  return res;
}

struct Shared {
  std::string name;
  ServerObserver observer;
  std::shared_ptr<bool> stopping;
  std::shared_ptr<size_t> open_sessions;  // shared with the Server, which sessions may outlive
  std::shared_ptr<size_t> busy_sessions;  // between a request read and its answer written

  void report(std::string_view reason) const {
    if (observer) observer(name, reason);
  }
};

// Closes a connection the server is done with while the client may still be sending: shutdown(SHUT_WR) tells
// the client the answer is complete, then what it still sends is read and dropped for a moment (RFC 9112 §9.6,
// "lingering close"). Closing at once with unread bytes would send a reset, which can destroy the answer in the
// client's receive buffer before it reads it. Bounded in time and bytes, so it holds nothing for long.
asio::awaitable<void> lingering_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  stream.expires_after(kRefusalWriteTimeout);
  char sink[4096];
  size_t drained = 0;
  while (drained < 64 * 1024) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    drained += n;
  }
}

asio::awaitable<void> serve_session(tcp::socket socket, Handler handler, std::shared_ptr<Shared> shared) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(kMaxReadBuffer);
  for (;;) {
    detail::RequestParser parser;
    detail::limit_request_parser(parser);
    stream.expires_after(kReadTimeout);
    ReadResult read = co_await detail::read_request(stream, buffer, parser);
    if (read.kind == ReadResult::kGone) co_return;  // nothing to answer, nobody to linger for
    // Counted busy until the answer is written: graceful shutdown waits for these, not for idle keep-alives.
    ++*shared->busy_sessions;
    struct Idle {
      size_t& busy;
      ~Idle() { --busy; }
    } idle_after{*shared->busy_sessions};
    // Not a conditional expression: GCC 12 miscompiles `c ? x : co_await y` (use after free).
    Response res;
    if (read.kind == ReadResult::kRefused) {
      shared->report(read.refusal.reason);
      static log::Throttle throttle(20);
      if (auto suppressed = throttle.admit()) {
        log::info("request refused", {{"listener", shared->name}, {"reason", read.refusal.reason},
                                      {"suppressed", *suppressed}});
      }
      res = refusal_response(read.refusal);
    } else {
      Request& req = parser.get();
      std::string origin = detail::origin_form(req.target());
      if (origin.size() != req.target().size()) req.target(origin);
      res = co_await handler(req);
    }
    // After stop(), answer what was asked and close: clients reconnect to the next agent.
    if (*shared->stopping) res.keep_alive(false);
    bool keep_alive = read.kind == ReadResult::kRequest && res.keep_alive();
    stream.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await beast::http::async_write(stream, res, kTuple);
    if (wec) co_return;
    if (!keep_alive) break;
  }
  co_await lingering_close(stream);
}

// `hold` is never read: as a coroutine parameter it lives in the frame, which is what keeps it until the close.
asio::awaitable<void> answer_and_close(tcp::socket socket, Response response,
                                       [[maybe_unused]] std::shared_ptr<void> hold) {
  beast::tcp_stream stream(std::move(socket));
  response.keep_alive(false);
  stream.expires_after(kRefusalWriteTimeout);
  auto [ec, n] = co_await beast::http::async_write(stream, response, kTuple);
  if (!ec) co_await lingering_close(stream);
}

// Ends a session's coroutine: whatever it threw ends this connection only.
auto session_done(std::shared_ptr<Shared> shared) {
  return [shared](std::exception_ptr e) {
    --*shared->open_sessions;
    if (!e) return;
    shared->report("session_exception");
    log::error("http session failed", {{"listener", shared->name}, {"error", describe_exception(e)}});
  };
}

Admission admit(const ConnectionHandler& on_connection, tcp::socket& socket, const Shared& shared) {
  try {
    return on_connection(socket);
  } catch (...) {
    shared.report("admission_exception");
    log::error("http admission failed", {{"listener", shared.name}, {"error", describe_exception(std::current_exception())}});
  }
  return Drop{};
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, ConnectionHandler on_connection,
                                  std::shared_ptr<Shared> shared) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      shared->report("accept_failed");
      static log::Throttle throttle(5);
      if (auto suppressed = throttle.admit()) {
        log::warn("accept failed", {{"listener", shared->name}, {"error", ec.message()}, {"suppressed", *suppressed}});
      }
      // Out of descriptors or memory: the pending connection stays in the backlog and accept fails again at
      // once; spinning on it would burn a core. Pause so that closing sessions can free what it needs.
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
          ec.value() == ENFILE) {
        asio::steady_timer pause(acceptor.get_executor(), kAcceptBackoff);
        co_await pause.async_wait(kTuple);
      }
      continue;
    }
    Admission admission = admit(on_connection, socket, *shared);
    if (auto* handler = std::get_if<Handler>(&admission); handler && *handler) {
      ++*shared->open_sessions;
      asio::co_spawn(acceptor.get_executor(), serve_session(std::move(socket), std::move(*handler), shared),
                     session_done(shared));
    } else if (auto* answer = std::get_if<AnswerAndClose>(&admission)) {
      ++*shared->open_sessions;
      asio::co_spawn(acceptor.get_executor(),
                     answer_and_close(std::move(socket), std::move(answer->response), std::move(answer->hold)),
                     session_done(shared));
    } else {
      beast::error_code ignored;
      socket.close(ignored);
    }
  }
}

}  // namespace

Handler sync_handler(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](const Request& req) -> asio::awaitable<Response> { co_return fn(req); };
}

struct Server::Impl {
  asio::io_context& io;
  ServerObserver observer;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::shared_ptr<bool> stopping = std::make_shared<bool>(false);
  std::shared_ptr<size_t> open_sessions = std::make_shared<size_t>(0);
  std::shared_ptr<size_t> busy_sessions = std::make_shared<size_t>(0);
};

Server::Server(asio::io_context& io, ServerObserver observer) : impl_(new Impl{io, std::move(observer), {}}) {}

size_t Server::open_sessions() const { return *impl_->open_sessions; }
size_t Server::busy_sessions() const { return *impl_->busy_sessions; }
Server::~Server() { stop(); }

Result<tcp::endpoint> Server::listen(const tcp::endpoint& at, ConnectionHandler on_connection, std::string name) {
  auto acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  beast::error_code ec;
  acceptor->open(at.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(at, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{std::error_code(ec.value(), std::system_category()),
                 "listen on " + at.address().to_string() + ":" + std::to_string(at.port()) + " (" + name + ")"};
  }
  tcp::endpoint bound = acceptor->local_endpoint();
  tcp::acceptor& ref = *acceptor;
  impl_->acceptors.push_back(std::move(acceptor));
  auto shared = std::make_shared<Shared>(
      Shared{name, impl_->observer, impl_->stopping, impl_->open_sessions, impl_->busy_sessions});
  asio::co_spawn(impl_->io, accept_loop(ref, std::move(on_connection), shared),
                 [name](std::exception_ptr e) {
                   if (e) log::error("listener stopped", {{"listener", name}, {"error", describe_exception(e)}});
                 });
  return bound;
}

void Server::stop() {
  *impl_->stopping = true;
  for (auto& a : impl_->acceptors) {
    beast::error_code ignored;
    a->close(ignored);
  }
}

}  // namespace podid::http
