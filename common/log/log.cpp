// SPDX-License-Identifier: Apache-2.0
#include "podid/log.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <string>

namespace podid::log {
namespace {

std::atomic<Level> g_min_level{Level::kInfo};

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == level_name(level)) return level;
  }
  return std::nullopt;
}

void set_min_level(Level level) { g_min_level.store(level, std::memory_order_relaxed); }

bool enabled(Level level) { return level >= g_min_level.load(std::memory_order_relaxed); }

namespace {

// A message made only of printable ASCII other than '"' and '\\' is its own JSON string: the usual case (the
// messages are literals), written without a JSON library on the agent's per-request audit line.
bool plain_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// {"ts":...,"level":"...","msg":"..." — the fields and the closing brace follow. ts: seconds since the epoch,
// to the microsecond.
std::string line_head(Level level, std::string_view msg, size_t rest = 0) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  char ts[32];
  char* end = std::to_chars(ts, ts + 24, us / 1'000'000).ptr;
  long long micros = us % 1'000'000;
  *end++ = '.';
  for (long long unit = 100'000; unit > 0; unit /= 10) *end++ = static_cast<char>('0' + micros / unit % 10);
  std::string out;
  out.reserve(96 + msg.size() + rest);
  out += "{\"ts\":";
  out.append(ts, end);
  out += ",\"level\":\"";
  out += level_name(level);
  out += "\",\"msg\":";
  if (plain_ascii(msg)) {
    out += '"';
    out += msg;
    out += '"';
  } else {
    // Replace invalid UTF-8 (paths, peer data) rather than throw from a log call.
    out += nlohmann::json(msg).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return out;
}

// One write(2) per line, so lines from several threads never interleave.
void emit(std::string& out) {
  out.push_back('\n');
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

void write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (!enabled(level)) return;
  // Spliced as text rather than built as one JSON object: copying `fields` into a new object cost more than
  // the rest of a cached token answer.
  std::string out = line_head(level, msg);
  if (fields.is_object() && !fields.empty()) {
    std::string rest = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back(',');
    out.append(rest, 1, std::string::npos);  // drop the object's opening brace
  } else {
    out.push_back('}');
  }
  emit(out);
}

void write_members(Level level, std::string_view msg, std::string_view members) {
  if (!enabled(level)) return;
  std::string out = line_head(level, msg, members.size() + 3);
  if (!members.empty()) {
    out.push_back(',');
    out.append(members);
  }
  out.push_back('}');
  emit(out);
}

std::optional<uint64_t> Throttle::admit() {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t window = window_.load(std::memory_order_relaxed);
  if (now != window && window_.compare_exchange_strong(window, now, std::memory_order_relaxed)) {
    used_.store(0, std::memory_order_relaxed);
  }
  if (used_.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return dropped_.exchange(0, std::memory_order_relaxed);
}

}  // namespace podid::log
