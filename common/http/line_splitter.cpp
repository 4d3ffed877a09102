// SPDX-License-Identifier: Apache-2.0
#include "line_splitter.h"

namespace podid::http::detail {

LineSplitter::Outcome LineSplitter::deliver(std::string_view line, const OnLine& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_line_) return Outcome::kTooLong;
  return on_line(line) ? Outcome::kMore : Outcome::kStopped;
}

LineSplitter::Outcome LineSplitter::feed(std::string_view bytes, const OnLine& on_line) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      // +1: a line of exactly max_line bytes may still be waiting for a "\r\n" terminator.
      if (pending_.size() + bytes.size() > max_line_ + 1) return Outcome::kTooLong;
      pending_.append(bytes);
      return Outcome::kMore;
    }
    Outcome outcome;
    if (pending_.empty()) {
      // The common case (a whole line inside one read) is delivered without a copy.
      outcome = deliver(bytes.substr(0, nl), on_line);
    } else {
      if (pending_.size() + nl > max_line_ + 1) return Outcome::kTooLong;
      pending_.append(bytes.substr(0, nl));
      std::string line = std::move(pending_);
      pending_.clear();
      outcome = deliver(line, on_line);
    }
    if (outcome != Outcome::kMore) return outcome;
    bytes.remove_prefix(nl + 1);
  }
  return Outcome::kMore;
}

LineSplitter::Outcome LineSplitter::finish(const OnLine& on_line) {
  if (pending_.empty()) return Outcome::kMore;
  std::string line = std::move(pending_);
  pending_.clear();
  return deliver(line, on_line);
}

}  // namespace podid::http::detail
