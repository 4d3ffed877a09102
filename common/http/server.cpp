// SPDX-License-Identifier: Apache-2.0
#include "podid/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <vector>

#include "request_reader.h"
#include "session_replay.h"
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

// Counted busy from a request's arrival until its answer is written: graceful shutdown waits for these, not
// for idle keep-alive sessions.
struct BusyWhileAnswering {
  size_t& busy;
  explicit BusyWhileAnswering(size_t& b) : busy(b) { ++busy; }
  ~BusyWhileAnswering() { --busy; }
  BusyWhileAnswering(const BusyWhileAnswering&) = delete;
  BusyWhileAnswering& operator=(const BusyWhileAnswering&) = delete;
};

// Writes `bytes` at once when the socket takes them all (the usual case: an answer of a few KiB into an empty send
// buffer), with no timer and no trip through the io_context; what it does not take is written asynchronously
// within kWriteTimeout. The session's socket is in non-blocking mode. False: the connection failed.
asio::awaitable<bool> write_now_or_later(beast::tcp_stream& stream, std::string_view bytes) {
  beast::error_code ec;
  size_t n = stream.socket().write_some(asio::buffer(bytes), ec);
  if (!ec && n == bytes.size()) co_return true;
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
  if (ec) n = 0;
  stream.expires_after(kWriteTimeout);
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(bytes.substr(n)), kTuple);
  co_return !wec;
}

// A request byte-identical to the one the session's replay answered, while the replay holds: the same answer
// again, neither parsed nor handled (kSame). kDifferent: nothing was consumed, the parser reads what the buffer
// holds. kTruncated: part of a request, then the end of the stream. kGone: the peer went, or the write failed.
asio::awaitable<detail::BytesMatch> replay_if_same(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                   detail::SessionReplay& replay, const Shared& shared) {
  using detail::BytesMatch;
  auto match = co_await detail::await_bytes(stream, buffer, replay.request);
  if (match != BytesMatch::kSame) co_return match;
  // Asked once the bytes are here: the wait for them may have outlasted what the answer relied on.
  if (*shared.stopping || !replay.replay->current()) co_return BytesMatch::kDifferent;
  const auto arrived = std::chrono::steady_clock::now();
  BusyWhileAnswering busy(*shared.busy_sessions);
  buffer.consume(replay.request.size());
  // Recorded before the write, as the handler records its decision before its answer is written.
  std::shared_ptr<Replay> hold = replay.replay;  // replayed() may not end the session's replay under itself
  hold->replayed(std::chrono::steady_clock::now() - arrived);
  bool written = co_await write_now_or_later(stream, replay.response);
  co_return written ? BytesMatch::kSame : BytesMatch::kGone;
}

asio::awaitable<void> serve_session(tcp::socket socket, ReplayingHandler handler, std::shared_ptr<Shared> shared) {
  using detail::BytesMatch;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(kMaxReadBuffer);
  detail::SessionReplay replay;  // empty until the handler offers one
  beast::error_code ignored;
  stream.socket().non_blocking(true, ignored);  // for write_now_or_later; asynchronous operations are unaffected
  for (;;) {
    stream.expires_after(kReadTimeout);
    BytesMatch replayed = BytesMatch::kDifferent;
    if (replay.replay && !*shared->stopping) {
      replayed = co_await replay_if_same(stream, buffer, replay, *shared);
      if (replayed == BytesMatch::kGone) co_return;
      if (replayed == BytesMatch::kSame) continue;
      replay.clear();  // a different request, or the answer no longer holds: the handler decides again
    }
    detail::RequestParser parser;
    detail::limit_request_parser(parser);
    detail::RequestBytes request_bytes;
    ReadResult read = detail::refused("truncated", Status::bad_request);
    if (replayed != BytesMatch::kTruncated) read = co_await detail::read_request(stream, buffer, parser, &request_bytes);
    if (read.kind == ReadResult::kGone) co_return;  // nothing to answer, nobody to linger for
    BusyWhileAnswering busy(*shared->busy_sessions);
    // Not a conditional expression: GCC 12 miscompiles `c ? x : co_await y` (use after free).
    Answer answer;
    if (read.kind == ReadResult::kRefused) {
      shared->report(read.refusal.reason);
      static log::Throttle throttle(20);
      if (auto suppressed = throttle.admit()) {
        log::info("request refused", {{"listener", shared->name}, {"reason", read.refusal.reason},
                                      {"suppressed", *suppressed}});
      }
      answer.response = refusal_response(read.refusal);
    } else {
      Request& req = parser.get();
      std::string origin = detail::origin_form(req.target());
      if (origin.size() != req.target().size()) req.target(origin);
      answer = co_await handler(req);
    }
    Response& res = answer.response;
    // After stop(), answer what was asked and close: clients reconnect to the next agent.
    if (*shared->stopping) res.keep_alive(false);
    bool keep_alive = read.kind == ReadResult::kRequest && res.keep_alive();
    if (answer.replay && keep_alive && !request_bytes.overflow) {
      // Written from the same bytes every replay writes.
      replay = {std::move(request_bytes.bytes), detail::serialize_response(res), std::move(answer.replay)};
      bool written = co_await write_now_or_later(stream, replay.response);
      if (!written) co_return;
      continue;
    }
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

ReplayingHandler never_replayed(Handler handler) {
  return [handler = std::move(handler)](const Request& req) -> asio::awaitable<Answer> {
    Response res = co_await handler(req);
    co_return Answer{std::move(res)};
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
    if (auto* plain = std::get_if<Handler>(&admission); plain && *plain) admission = never_replayed(std::move(*plain));
    if (auto* handler = std::get_if<ReplayingHandler>(&admission); handler && *handler) {
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

std::string detail::serialize_response(Response& res) {
  beast::http::response_serializer<beast::http::string_body> serializer(res);
  std::string out;
  beast::error_code ec;
  while (!ec && !serializer.is_done()) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      serializer.consume(n);
    });
  }
  return out;
}

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
