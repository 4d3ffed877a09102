// SPDX-License-Identifier: Apache-2.0
//
// Splits a streamed body (a Kubernetes watch) into lines as bytes arrive, whatever the chunk boundaries. Kept
// apart from the socket code so the splitting rules are tested on plain strings.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace podid::http::detail {

class LineSplitter {
 public:
  enum class Outcome {
    kMore,     // keep reading
    kStopped,  // on_line returned false
    kTooLong,  // a line grew past max_line bytes: the stream cannot be trusted to resynchronise
  };
  using OnLine = std::function<bool(std::string_view line)>;

  explicit LineSplitter(uint64_t max_line) : max_line_(max_line) {}

  // Calls on_line for every line completed by `bytes`, without its "\n" (or "\r\n"). Empty lines are
  // delivered too: what a blank line means is the consumer's call.
  Outcome feed(std::string_view bytes, const OnLine& on_line);

  // At the end of a body: a last line without a terminating "\n" is still a line.
  Outcome finish(const OnLine& on_line);

  size_t pending_bytes() const { return pending_.size(); }

 private:
  Outcome deliver(std::string_view line, const OnLine& on_line);

  uint64_t max_line_;
  std::string pending_;  // an incomplete line carried over to the next feed()
};

}  // namespace podid::http::detail
