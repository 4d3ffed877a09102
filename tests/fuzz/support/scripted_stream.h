// SPDX-License-Identifier: Apache-2.0
//
// A peer that sends the fuzzer's bytes, cut into reads the way a network might cut them, to the real read loops
// of the server (common/http/request_reader.h) and the client (common/http/response_reader.h). No socket: an
// input costs microseconds, not a connection.
//
// Input convention of every target that reads through a stream: the first byte is the ReadPlan's seed, the
// rest is what the peer sends.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

namespace podid::fuzz {

// How the peer's bytes are cut into reads. Seed 0: each read takes as much as the reader has room for (the
// common case, and the fastest). Any other seed: sizes of 1 to 64 bytes from a small PRNG, so a header, a chunk
// size line or a JSON line is split at every place a network could split it.
class ReadPlan {
 public:
  explicit ReadPlan(uint8_t seed) : whole_(seed == 0), state_(0x9E3779B9u ^ (uint32_t{seed} * 0x85EBCA6Bu)) {}

  // The most the next read may return.
  size_t next_limit() {
    if (whole_) return SIZE_MAX;
    state_ ^= state_ << 13;  // xorshift32
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return 1 + state_ % 64;
  }

 private:
  bool whole_;
  uint32_t state_;
};

// An AsyncReadStream over fixed bytes; after the last byte every read ends with eof, as a peer that closed.
// Timers are the lowest layer's business in the real streams; here they are accepted and ignored (the bytes are
// all there, nothing waits).
class ScriptedStream {
 public:
  using executor_type = boost::asio::any_io_executor;

  ScriptedStream(executor_type executor, std::string_view bytes, ReadPlan plan)
      : executor_(std::move(executor)), bytes_(bytes), plan_(plan) {}

  executor_type get_executor() const { return executor_; }

  template <class Time>
  void expires_at(Time) {}
  template <class Duration>
  void expires_after(Duration) {}

  size_t unread() const { return bytes_.size(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& into) {
          boost::system::error_code ec;
          size_t n = 0;
          if (bytes_.empty()) {
            ec = boost::asio::error::eof;
          } else {
            std::string_view piece = bytes_.substr(0, plan_.next_limit());
            n = boost::asio::buffer_copy(into, boost::asio::buffer(piece.data(), piece.size()));
            bytes_.remove_prefix(n);
          }
          // Completed through the executor, as a socket's read completes: never inside the initiating call.
          boost::asio::post(executor_, boost::asio::append(std::move(handler), ec, n));
        },
        token, buffers);
  }

 private:
  executor_type executor_;
  std::string_view bytes_;
  ReadPlan plan_;
};

// A stream target's input: the ReadPlan's seed, then the peer's bytes.
struct StreamInput {
  ReadPlan plan;
  std::string_view bytes;
};

// nullopt for an empty input, which has no seed.
inline std::optional<StreamInput> stream_input(const uint8_t* data, size_t size) {
  if (size == 0) return std::nullopt;
  return StreamInput{ReadPlan(data[0]), std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

// Runs `task` on `io` to its end; what it threw is rethrown here. Tasks hand results out through references.
inline void run_to_end(boost::asio::io_context& io, boost::asio::awaitable<void> task) {
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace podid::fuzz
