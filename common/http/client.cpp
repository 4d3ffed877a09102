// SPDX-License-Identifier: Apache-2.0
//
// One exchange = resolve, connect, (TLS handshake), write, read, close. Every exchange runs in its own
// coroutine frame holding a shared_ptr to the client's settings, never `this`: a caller may destroy the
// Client while an exchange it cancelled is still unwinding.
#include "podid/http/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <mutex>
#include <optional>

#include "response_reader.h"
#include "resolve.h"
#include "tls_context.h"
#include "podid/error.h"

namespace podid::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using Clock = std::chrono::steady_clock;
using LineFn = std::function<bool(std::string_view)>;
using ErrorCode = boost::system::error_code;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What the client was built with, shared with the exchanges in flight.
struct Shared {
  ClientOptions options;

  // Built on the first https call: loading the system's CA bundle costs tens of milliseconds, which a
  // plain-HTTP client (the IMDS upstream) should not pay. Errors are reported by every https call.
  const Result<std::shared_ptr<ssl::context>>& tls() const {
    std::call_once(tls_once_, [this] { tls_.emplace(detail::make_tls_context(options.tls)); });
    return *tls_;
  }

 private:
  mutable std::once_flag tls_once_;
  mutable std::optional<Result<std::shared_ptr<ssl::context>>> tls_;
};

struct Exchange {
  std::shared_ptr<const Shared> shared;
  std::string what;  // "GET https://host:port/path", the context of every error
  Clock::time_point deadline;

  Error fail(ErrorCode ec, std::string_view step) const { return Error{ec, what + ": " + std::string(step)}; }
  detail::ReadContext reading() const { return {shared->options, what, deadline}; }
};

void prepare(Request& req, const Url& url, const ClientOptions& options) {
  req.version(11);
  req.target(url.target);
  req.set(bhttp::field::host, url.host_header());
  if (req.find(bhttp::field::user_agent) == req.end()) req.set(bhttp::field::user_agent, options.user_agent);
  req.keep_alive(false);  // no pooling: the server may close as soon as it has answered
  req.prepare_payload();
}

// A watch may be silent for minutes; keepalive probes notice a peer that vanished (a partitioned node) long
// before the silence limit would.
void enable_keepalive(beast::tcp_stream& stream) {
  ErrorCode ignored;
  auto& s = stream.socket();
  s.set_option(asio::socket_base::keep_alive(true), ignored);
  s.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(30), ignored);
  s.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(10), ignored);
  s.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ignored);
}

template <class Stream>
asio::awaitable<Result<Response>> exchange(Stream& stream, Request& req, const Exchange& x, const LineFn& on_line) {
  beast::get_lowest_layer(stream).expires_at(x.deadline);
  auto [ec, n] = co_await bhttp::async_write(stream, req, kTuple);
  if (ec) co_return x.fail(ec, "write request");
  beast::flat_buffer buffer;
  const detail::ReadContext reading = x.reading();  // named: GCC 12 mishandles temporaries in co_await
  if (on_line) co_return co_await detail::read_lines(stream, buffer, reading, on_line);
  co_return co_await detail::read_whole(stream, buffer, reading, req.method() == bhttp::verb::head);
}

// The connection is closed when the frame ends, without a TLS close_notify: the response's own framing
// (Content-Length, last chunk) already told us it is complete, and waiting for the peer's close_notify would
// only add a round trip to every call.
asio::awaitable<Result<Response>> run_exchange(std::shared_ptr<const Shared> shared, asio::any_io_executor executor,
                                               Url url, Request req, LineFn on_line) {
  Exchange x{shared, std::string(req.method_string()) + " " + url.to_string(), Clock::now() + shared->options.timeout};
  const bool tls = url.scheme == "https";
  if (!tls && url.scheme != "http") co_return invalid_argument(x.what);
  if (tls && !shared->tls()) co_return shared->tls().error().wrap(x.what);
  prepare(req, url, shared->options);

  auto endpoints = co_await detail::resolve(executor, url.host, url.port, x.deadline);
  if (!endpoints) co_return endpoints.error().wrap(x.what);
  beast::tcp_stream tcp(executor);
  tcp.expires_at(x.deadline);
  auto [cec, endpoint] = co_await tcp.async_connect(*endpoints, kTuple);
  if (cec) co_return x.fail(cec, "connect");
  enable_keepalive(tcp);
  if (!tls) co_return co_await exchange(tcp, req, x, on_line);

  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *shared->tls().value());
  const TlsSettings& settings = shared->options.tls;
  const std::string& name = settings.server_name.empty() ? url.host : settings.server_name;
  if (!detail::configure_tls_connection(stream.native_handle(), name, settings.verify_peer)) {
    co_return invalid_argument(x.what + ": TLS server name \"" + name + "\"");
  }
  beast::get_lowest_layer(stream).expires_at(x.deadline);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
  if (hec) {
    std::string why = detail::verify_failure(stream.native_handle());
    co_return x.fail(hec, why.empty() ? "TLS handshake" : "TLS handshake (" + why + ")");
  }
  co_return co_await exchange(stream, req, x, on_line);
}

}  // namespace

struct Client::Impl {
  asio::any_io_executor executor;
  std::shared_ptr<const Shared> shared;
};

const asio::any_io_executor& Client::executor() const { return impl_->executor; }

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  auto shared = std::make_shared<Shared>();
  shared->options = options_;
  impl_->executor = std::move(executor);
  impl_->shared = std::move(shared);
}

Client::~Client() = default;

asio::awaitable<Result<Response>> Client::send(const Url& url, Request req) {
  return run_exchange(impl_->shared, impl_->executor, url, std::move(req), nullptr);
}

asio::awaitable<Result<Response>> Client::stream_lines(const Url& url, Request req,
                                                       std::function<bool(std::string_view line)> on_line) {
  if (!on_line) on_line = [](std::string_view) { return true; };
  return run_exchange(impl_->shared, impl_->executor, url, std::move(req), std::move(on_line));
}

}  // namespace podid::http
