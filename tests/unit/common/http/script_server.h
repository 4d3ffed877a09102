// SPDX-License-Identifier: Apache-2.0
//
// A test HTTP(S) server on 127.0.0.1, port 0, answering each request with raw bytes written in scripted
// steps (with pauses in between), so tests control framing exactly: chunk boundaries in the middle of a line,
// silence, a connection cut without the last chunk. One request per connection, as http::Client sends.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "podid/http/server.h"
#include "test_pki.h"

namespace podid::testing {

struct Step {
  std::string bytes;
  std::chrono::milliseconds delay{0};  // before the bytes are written
};

struct Reply {
  std::vector<Step> steps;
  // After the steps: close the connection, or hold it open until the client leaves or drop_all().
  enum class End { kClose, kHold } end = End::kClose;
};

// `index` counts requests from 0 across all connections.
using Script = std::function<Reply(const http::Request& req, size_t index)>;

class ScriptServer {
 public:
  ScriptServer(boost::asio::io_context& io, Script script, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~ScriptServer();
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;

  uint16_t port() const;
  std::string url(std::string_view target = "/") const;  // http(s)://127.0.0.1:<port><target>
  const std::vector<http::Request>& requests() const;
  const std::vector<std::string>& server_names() const;  // SNI of each TLS connection, "" when none was sent
  size_t open_connections() const;
  // Cuts every open connection at once (no closing chunk): a dropped watch.
  void drop_all();

  struct State;  // opaque; public only so the connection coroutines in the .cpp can name it

 private:
  std::shared_ptr<State> state_;
};

// A complete response with Content-Length and "Connection: close".
std::string http_response(unsigned status, std::string_view body, std::string_view content_type = "application/json");
// The head of a chunked 200 (or other) response; the body follows as chunk()s and kLastChunk.
std::string chunked_head(unsigned status = 200, std::string_view content_type = "application/json");
std::string chunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// A TLS server context presenting `cert`; with client_ca_pem, clients must show a certificate it issued.
std::shared_ptr<boost::asio::ssl::context> server_tls(const CertAndKey& cert, const std::string& client_ca_pem = "");

}  // namespace podid::testing
