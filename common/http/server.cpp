// SPDX-License-Identifier: Apache-2.0
#include "podid/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <vector>

#include "podid/log.h"

namespace podid::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

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

// An error answer for a request that could not be parsed; the connection closes after it.
Response parse_failure(beast::error_code ec) {
  Request dummy;
  dummy.version(11);
  auto status = ec == beast::http::error::body_limit ? Status::payload_too_large : Status::bad_request;
  auto res = json_response(dummy, status, R"({"error":"invalid_request","error_description":"malformed request"})");
  res.keep_alive(false);
  return res;
}

asio::awaitable<void> serve_session(tcp::socket socket, Handler handler, std::shared_ptr<bool> stopping) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    stream.expires_after(kReadTimeout);
    auto [ec, n] = co_await beast::http::async_read(stream, buffer, parser, kTuple);
    if (ec == beast::http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      break;
    }
    // Not a conditional expression: GCC 12 miscompiles `c ? x : co_await y` (use after free).
    Response res;
    if (ec) {
      res = parse_failure(ec);
    } else {
      res = co_await handler(parser.get());
    }
    // After stop(), answer what was asked and close: clients reconnect to the next agent.
    if (*stopping) res.keep_alive(false);
    bool keep_alive = !ec && res.keep_alive();
    stream.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await beast::http::async_write(stream, res, kTuple);
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

struct SessionCount {
  size_t open = 0;
};

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, ConnectionHandler on_connection, std::string name,
                                  std::shared_ptr<bool> stopping, std::shared_ptr<SessionCount> sessions) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      log::warn("accept failed", {{"listener", name}, {"error", ec.message()}});
      continue;
    }
    Handler handler = on_connection(socket);
    if (!handler) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++sessions->open;
    asio::co_spawn(acceptor.get_executor(), serve_session(std::move(socket), std::move(handler), stopping),
                   [name, sessions](std::exception_ptr e) {
                     --sessions->open;
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log::error("http session failed", {{"listener", name}, {"error", ex.what()}});
                     }
                   });
  }
}

}  // namespace

Handler sync_handler(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](const Request& req) -> asio::awaitable<Response> { co_return fn(req); };
}

struct Server::Impl {
  asio::io_context& io;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::shared_ptr<bool> stopping = std::make_shared<bool>(false);
  std::shared_ptr<SessionCount> sessions = std::make_shared<SessionCount>();
};

Server::Server(asio::io_context& io) : impl_(new Impl{io, {}}) {}

size_t Server::open_sessions() const { return impl_->sessions->open; }
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
  asio::co_spawn(impl_->io, accept_loop(ref, std::move(on_connection), name, impl_->stopping, impl_->sessions),
                 [name](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("listener stopped", {{"listener", name}, {"error", ex.what()}});
    }
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
