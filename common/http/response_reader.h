// SPDX-License-Identifier: Apache-2.0
//
// The client's reading of an answer: a whole response (read_whole) or a Kubernetes watch, line by line
// (read_lines), through Beast's parser within the client's limits. Templates on the stream so that the fuzz
// targets (tests/fuzz) drive exactly these loops with scripted reads; client.cpp instantiates them with
// beast::tcp_stream and the TLS stream. A stream here needs async_read_some and, on its lowest layer,
// expires_at / expires_after.
//
// Errors: Result errors carrying the Beast error code and "<what>: <step>" as context, as client.h says.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "line_splitter.h"
#include "podid/http/client.h"

namespace podid::http::detail {

// A response header larger than this is refused: no legitimate upstream (IMDS, Entra ID, ARM, the Kubernetes
// API) sends one near it.
inline constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;
// The most body bytes handed on per read of a stream.
inline constexpr size_t kReadChunkBytes = 64 * 1024;

// What reading one answer needs from its exchange: the limits, the deadline and the context of errors.
struct ReadContext {
  const ClientOptions& options;
  std::string_view what;  // "GET https://host:port/path"
  std::chrono::steady_clock::time_point deadline;

  Error fail(boost::system::error_code ec, std::string_view step) const {
    return Error{ec, std::string(what) + ": " + std::string(step)};
  }
};

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using LineFn = std::function<bool(std::string_view)>;

// A body delimited by the connection's end (no Content-Length, not chunked) ends with the peer closing. Over
// TLS a close without close_notify reads as stream_truncated; for such a body that is its end, as curl and Go
// treat it, since such a body has no other end to check.
template <class Parser>
inline bool ends_close_delimited_body(boost::system::error_code ec, Parser& parser) {
  if (ec != asio::ssl::error::stream_truncated || !parser.is_header_done() || !parser.need_eof()) return false;
  boost::system::error_code eof_ec;
  parser.put_eof(eof_ec);
  return !eof_ec && parser.is_done();
}

template <class Stream>
boost::asio::awaitable<Result<Response>> read_whole(Stream& stream, beast::flat_buffer& buffer, const ReadContext& x,
                                                    bool head_request) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(x.options.max_body_bytes);
  if (head_request) parser.skip(true);
  beast::get_lowest_layer(stream).expires_at(x.deadline);
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (ec && !ends_close_delimited_body(ec, parser)) co_return x.fail(ec, "read response");
  co_return parser.release();
}

// The answer to stream_lines(): a 200 body goes line by line to on_line, with options.timeout as the longest
// silence; any other status is read whole (it is an error Status, not a stream) within the deadline.
template <class Stream>
boost::asio::awaitable<Result<Response>> read_lines(Stream& stream, beast::flat_buffer& buffer, const ReadContext& x,
                                                    const LineFn& on_line) {
  const ClientOptions& options = x.options;
  auto& lowest = beast::get_lowest_layer(stream);
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(boost::none);  // the limits are per line or per error body, checked below
  lowest.expires_at(x.deadline);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (hec) co_return x.fail(hec, "read response header");

  Response head;
  head.base() = parser.get().base();
  const bool streaming = parser.get().result() == Status::ok;
  if (!streaming && parser.content_length() && *parser.content_length() > options.max_body_bytes) {
    co_return x.fail(bhttp::error::body_limit, "read response body");
  }

  LineSplitter lines(options.max_body_bytes);
  std::string body;
  std::vector<char> chunk(kReadChunkBytes);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    if (streaming) {
      lowest.expires_after(options.timeout);
    } else {
      lowest.expires_at(x.deadline);
    }
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec == bhttp::error::need_buffer) ec = {};  // our chunk is full: not an error, just hand it on
    if (ec && !ends_close_delimited_body(ec, parser)) {
      co_return x.fail(ec, streaming ? "read stream" : "read response body");
    }
    std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (!streaming) {
      if (body.size() + got.size() > options.max_body_bytes) {
        co_return x.fail(bhttp::error::body_limit, "read response body");
      }
      body.append(got);
      continue;
    }
    auto outcome = lines.feed(got, on_line);
    if (outcome == LineSplitter::Outcome::kStopped) co_return head;
    if (outcome == LineSplitter::Outcome::kTooLong) {
      co_return x.fail(bhttp::error::body_limit, "read stream: line longer than max_body_bytes");
    }
  }
  if (!streaming) {
    head.body() = std::move(body);
    co_return head;
  }
  if (lines.finish(on_line) == LineSplitter::Outcome::kTooLong) {
    co_return x.fail(bhttp::error::body_limit, "read stream: line longer than max_body_bytes");
  }
  co_return head;
}

}  // namespace podid::http::detail
