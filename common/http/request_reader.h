// SPDX-License-Identifier: Apache-2.0
//
// The server's read loop for one request: bytes from the peer, through Beast's parser, within the limits of
// server.h, to a request or a refusal. A template on the stream so that the fuzz targets (tests/fuzz) drive
// exactly this loop with scripted reads; server.cpp instantiates it with beast::tcp_stream.
//
// Errors: none thrown here by design; Beast's parser may throw from put() (std::length_error for a field
// over 64 KiB, std::bad_alloc), which then leaves read_request() in the caller's coroutine.
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <iterator>
#include <string_view>

#include "podid/http/server.h"
#include "request_framing.h"
#include "session_replay.h"

namespace podid::http::detail {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// How one attempt to read a request ended: a request, the peer gone (nothing to answer), or a refusal.
struct ReadResult {
  enum Kind { kRequest, kGone, kRefused } kind = kGone;
  Refusal refusal{"", Status::bad_request};
};

inline ReadResult refused(std::string_view reason, Status status) {
  return {ReadResult::kRefused, Refusal{reason, status}};
}

inline ReadResult refusal_for(boost::beast::error_code ec) {
  namespace bhttp = boost::beast::http;
  if (ec == bhttp::error::header_limit) return refused("header_too_large", Status::request_header_fields_too_large);
  if (ec == bhttp::error::body_limit) return refused("body_too_large", Status::payload_too_large);
  if (ec == bhttp::error::buffer_overflow) return refused("framing_too_large", Status::bad_request);
  return refused("malformed", Status::bad_request);
}

inline size_t field_count(const Request& req) { return static_cast<size_t>(std::distance(req.begin(), req.end())); }

// A parser with the server's limits, stopping at the end of the header so that framing is checked before the
// body is read.
inline void limit_request_parser(RequestParser& parser) {
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(kMaxBodyBytes);
  parser.eager(false);
}

// Feeds what the buffer holds to the parser. Beast throws from inside put() (std::length_error for a field
// over 64 KiB, std::bad_alloc): it does so here, in the session's coroutine, where the caller catches it,
// instead of inside an Asio completion handler, from where it would leave io_context::run().
// `consumed`, when given, gets the bytes the parser used (a replayable request's bytes).
inline bool parse_buffered(RequestParser& parser, boost::beast::flat_buffer& buffer, boost::beast::error_code& ec,
                           RequestBytes* consumed = nullptr) {
  ec = {};
  if (buffer.size() == 0) {
    ec = boost::beast::http::error::need_more;
    return false;
  }
  size_t used = parser.put(buffer.data(), ec);
  if (consumed) consumed->append(buffer.data().data(), used);
  buffer.consume(used);
  // A parser that consumed nothing and wants nothing is waiting for bytes it has not seen.
  if (!ec && used == 0 && !parser.is_done()) ec = boost::beast::http::error::need_more;
  return !ec;
}

// Reads one request into `parser` (limited by limit_request_parser) within the limits: the caller's timer,
// kMaxHeaderBytes for the header, the parser's body limit, and the buffer's max_size (kMaxReadBuffer) for
// whatever else must sit whole in memory (a chunk-size line with its extensions, the trailer section). The
// framing is checked once the header is complete, before any of the body is read. Bytes read past the end of
// the request stay in `buffer` for the next one (pipelining). `consumed`, when given, gets the request's bytes.
template <class Stream>
boost::asio::awaitable<ReadResult> read_request(Stream& stream, boost::beast::flat_buffer& buffer,
                                                RequestParser& parser, RequestBytes* consumed = nullptr) {
  namespace asio = boost::asio;
  namespace bhttp = boost::beast::http;
  bool header_checked = false;
  size_t header_fields = 0;
  for (;;) {
    boost::beast::error_code ec;
    bool progressed = parse_buffered(parser, buffer, ec, consumed);
    if (!progressed && ec != bhttp::error::need_more) co_return refusal_for(ec);
    if (parser.is_header_done() && !header_checked) {
      header_checked = true;
      if (auto refusal = check_request_framing(parser.get())) co_return ReadResult{ReadResult::kRefused, *refusal};
      header_fields = field_count(parser.get());
    }
    if (parser.is_done()) {
      // Beast merges trailer fields into the header; nothing here uses trailers, and a trailer could restate
      // a header already checked (Host, Metadata). Refused rather than merged.
      if (field_count(parser.get()) != header_fields) co_return refused("trailer_fields", Status::bad_request);
      co_return ReadResult{ReadResult::kRequest};
    }
    if (progressed) continue;
    size_t room = buffer.max_size() - buffer.size();
    if (room == 0) {
      co_return parser.is_header_done() ? refused("framing_too_large", Status::bad_request)
                                        : refused("header_too_large", Status::request_header_fields_too_large);
    }
    auto [rec, n] = co_await stream.async_read_some(buffer.prepare(std::min<size_t>(room, 4096)),
                                                    asio::as_tuple(asio::use_awaitable));
    if (rec == asio::error::eof) {
      if (!parser.got_some()) co_return ReadResult{ReadResult::kGone};
      parser.put_eof(ec);
      if (ec || !parser.is_done()) co_return refused("truncated", Status::bad_request);
      continue;
    }
    if (rec) co_return ReadResult{ReadResult::kGone};  // timeout, reset, aborted: nobody to answer
    buffer.commit(n);
  }
}

}  // namespace podid::http::detail
