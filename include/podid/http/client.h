// SPDX-License-Identifier: Apache-2.0
//
// An HTTP/1.1 client on Boost.Beast and C++20 coroutines, shared by the agent (upstream IMDS, Entra ID, the
// Kubernetes API) and the controller (ARM, the Kubernetes API). Plain HTTP and HTTPS (OpenSSL, a CA bundle
// given as PEM, optional client certificate).
//
// Errors: transport failures (resolve, connect, TLS handshake, timeout, reset, malformed response) are
// Result errors carrying the asio/beast error_code plus "GET https://host:port/path" as context. Any HTTP
// status, 4xx and 5xx included, is a successful Result: the caller decides what a status means.
//
// Every request has a deadline (connect + write + read of the whole response, or, when streaming, the gap
// between two chunks). Bodies larger than max_body_bytes are an error, never truncated silently.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "podid/http/server.h"  // Request, Response, Status
#include "podid/result.h"

namespace podid::http {

// scheme://host[:port][/target]. IPv6 hosts in brackets. Port defaults to 80 / 443.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  uint16_t port = 0;
  std::string target = "/";  // path and query, always starting with '/'

  // EINVAL with the offending text on anything else (no userinfo, no fragments).
  static Result<Url> parse(std::string_view text);
  // The same server with another target.
  Url with_target(std::string target) const;
  // "host:port" as the Host header wants it (brackets for IPv6, port omitted when default).
  std::string host_header() const;
  std::string to_string() const;
};

struct TlsSettings {
  std::string ca_pem;           // trusted CAs; empty: the system's default paths
  std::string client_cert_pem;  // optional client certificate (kubeconfig client-certificate-data)
  std::string client_key_pem;
  bool verify_peer = true;      // false only for kubeconfig insecure-skip-tls-verify
  std::string server_name;      // SNI / verification name; empty: the URL's host
};

struct ClientOptions {
  std::chrono::milliseconds timeout{10000};     // whole exchange; for streams, the longest silence allowed
  uint64_t max_body_bytes = 16 * 1024 * 1024;   // per response (per line when streaming)
  TlsSettings tls;
  std::string user_agent = "podid";
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `req` to `url`: method, headers and body are the caller's; target, Host, User-Agent (if unset) and
  // Content-Length are filled in here. Never adds X-Forwarded-For or any proxy header.
  // Connections are not pooled: each call connects, and closes when done (upstream calls are cache misses).
  boost::asio::awaitable<Result<Response>> send(const Url& url, Request req);

  // For Kubernetes watches: sends `req` and, if the answer is 200, calls on_line with each complete line of
  // the (chunked or close-delimited) body as it arrives, until the server ends the body, on_line returns
  // false, or no byte arrives for options.timeout. Returns the response head (body empty) on 200, or the full
  // response (body read) on any other status. The end of a 200 stream is a success; a timeout or reset in the
  // middle is an error.
  boost::asio::awaitable<Result<Response>> stream_lines(const Url& url, Request req,
                                                        std::function<bool(std::string_view line)> on_line);

  const ClientOptions& options() const { return options_; }
  const boost::asio::any_io_executor& executor() const;

 private:
  struct Impl;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::http
