// SPDX-License-Identifier: Apache-2.0
//
// One connection's replayable answer (see "Replay" in podid/http/server.h): the bytes of the request that was
// answered, the bytes of the answer, and the handler's Replay that says whether the answer still holds and
// records each time it is given again. Private to the server.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "podid/http/server.h"

namespace podid::http::detail {

// The bytes a request parse consumed, kept while they fit in kMaxReplayRequestBytes.
struct RequestBytes {
  std::string bytes;
  bool overflow = false;

  void append(const void* data, size_t n) {
    if (overflow) return;
    if (bytes.size() + n > kMaxReplayRequestBytes) {
      overflow = true;
      bytes.clear();
      return;
    }
    bytes.append(static_cast<const char*>(data), n);
  }
};

struct SessionReplay {
  std::string request;
  std::string response;
  std::shared_ptr<Replay> replay;

  void clear() { *this = SessionReplay{}; }
};

enum class BytesMatch { kSame, kDifferent, kTruncated, kGone };

// Reads until `buffer` starts with all of `expected` (kSame) or with something else (kDifferent; what was read
// stays in the buffer for the parser). kTruncated: the peer ended its side after part of a request (answered as
// the parser would answer it: the end of stream is reported once, the parser would not see it again). kGone: the
// peer closed, reset or timed out (the caller's timer) with nothing sent.
template <class Stream>
boost::asio::awaitable<BytesMatch> await_bytes(Stream& stream, boost::beast::flat_buffer& buffer,
                                               std::string_view expected) {
  namespace asio = boost::asio;
  for (;;) {
    const size_t have = std::min(buffer.size(), expected.size());
    if (std::memcmp(buffer.data().data(), expected.data(), have) != 0) co_return BytesMatch::kDifferent;
    if (have == expected.size()) co_return BytesMatch::kSame;
    const size_t room = buffer.max_size() - buffer.size();
    if (room == 0) co_return BytesMatch::kDifferent;  // cannot happen while expected fits; the parser decides
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(std::min<size_t>(room, 4096)),
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::eof && buffer.size() > 0) co_return BytesMatch::kTruncated;
    if (ec) co_return BytesMatch::kGone;
    buffer.commit(n);
  }
}

// The bytes Beast writes for `res`, header and body, so that an answer given again is the same to the byte.
std::string serialize_response(Response& res);

}  // namespace podid::http::detail
