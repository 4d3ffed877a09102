// SPDX-License-Identifier: Apache-2.0
#include "script_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <map>
#include <sstream>

namespace podid::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
}

struct ScriptServer::State {
  explicit State(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
  Script script;
  std::shared_ptr<ssl::context> tls;
  std::vector<http::Request> requests;
  std::vector<std::string> server_names;
  std::map<int, std::function<void()>> closers;  // open connections
  int next_id = 0;
};

namespace {

template <class Stream>
asio::awaitable<void> serve(std::shared_ptr<ScriptServer::State> st, Stream& stream, asio::steady_timer& timer) {
  beast::flat_buffer buffer;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
  if (ec) co_return;
  http::Request req = parser.release();
  size_t index = st->requests.size();
  st->requests.push_back(req);
  Reply reply = st->script(req, index);
  for (const Step& step : reply.steps) {
    if (step.delay.count() > 0) {
      timer.expires_after(step.delay);
      auto [tec] = co_await timer.async_wait(kTuple);
      if (tec) co_return;  // drop_all()
    }
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(step.bytes), kTuple);
    if (wec) co_return;
  }
  if (reply.end == Reply::End::kHold) {
    char sink[512];
    for (;;) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
    }
  }
}

asio::awaitable<void> connection(std::shared_ptr<ScriptServer::State> st, tcp::socket socket) {
  int id = st->next_id++;
  auto timer = std::make_shared<asio::steady_timer>(socket.get_executor());
  if (!st->tls) {
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    st->closers[id] = [sock, timer] {
      boost::system::error_code ignored;
      sock->close(ignored);
      timer->cancel();
    };
    co_await serve(st, *sock, *timer);
  } else {
    auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), *st->tls);
    st->closers[id] = [stream, timer] {
      boost::system::error_code ignored;
      stream->lowest_layer().close(ignored);
      timer->cancel();
    };
    auto [hec] = co_await stream->async_handshake(ssl::stream_base::server, kTuple);
    const char* sni = SSL_get_servername(stream->native_handle(), TLSEXT_NAMETYPE_host_name);
    st->server_names.push_back(sni ? sni : "");
    if (!hec) co_await serve(st, *stream, *timer);
  }
  if (auto it = st->closers.find(id); it != st->closers.end()) {
    auto close = std::move(it->second);
    st->closers.erase(it);
    close();
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<ScriptServer::State> st) {
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(kTuple);
    if (ec) co_return;
    asio::co_spawn(st->acceptor.get_executor(), connection(st, std::move(socket)), asio::detached);
  }
}

}  // namespace

ScriptServer::ScriptServer(asio::io_context& io, Script script, std::shared_ptr<ssl::context> tls)
    : state_(std::make_shared<State>(io)) {
  state_->script = std::move(script);
  state_->tls = std::move(tls);
  tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(at.protocol());
  state_->acceptor.bind(at);
  state_->acceptor.listen();
  asio::co_spawn(io, accept_loop(state_), asio::detached);
}

ScriptServer::~ScriptServer() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  drop_all();
}

uint16_t ScriptServer::port() const { return state_->acceptor.local_endpoint().port(); }

std::string ScriptServer::url(std::string_view target) const {
  return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + std::string(target);
}

const std::vector<http::Request>& ScriptServer::requests() const { return state_->requests; }
const std::vector<std::string>& ScriptServer::server_names() const { return state_->server_names; }
size_t ScriptServer::open_connections() const { return state_->closers.size(); }

void ScriptServer::drop_all() {
  auto closers = std::move(state_->closers);
  state_->closers.clear();
  for (auto& [id, close] : closers) close();
}

std::string http_response(unsigned status, std::string_view body, std::string_view content_type) {
  std::ostringstream out;
  out << "HTTP/1.1 " << status << " X\r\nContent-Type: " << content_type << "\r\nContent-Length: " << body.size()
      << "\r\nConnection: close\r\n\r\n"
      << body;
  return out.str();
}

std::string chunked_head(unsigned status, std::string_view content_type) {
  std::ostringstream out;
  out << "HTTP/1.1 " << status << " X\r\nContent-Type: " << content_type
      << "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  return out.str();
}

std::string chunk(std::string_view data) {
  std::ostringstream out;
  out << std::hex << data.size() << "\r\n" << data << "\r\n";
  return out.str();
}

std::shared_ptr<ssl::context> server_tls(const CertAndKey& cert, const std::string& client_ca_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->use_certificate_chain(asio::buffer(cert.cert_pem));
  ctx->use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
  if (!client_ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(client_ca_pem));
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace podid::testing
