// SPDX-License-Identifier: Apache-2.0
#include "podid/log.h"

#include <unistd.h>

#include <atomic>
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

void set_min_level(Level level) { g_min_level.store(level, std::memory_order_relaxed); }

void write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  nlohmann::json line = nlohmann::json::object();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  line["ts"] = std::chrono::duration<double>(now).count();
  line["level"] = level_name(level);
  line["msg"] = msg;
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) line[k] = v;
  }
  // Replace invalid UTF-8 (paths, peer data) rather than throw from a log call.
  std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

}  // namespace podid::log
