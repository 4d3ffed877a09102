// SPDX-License-Identifier: Apache-2.0
//
// Structured logging: one JSON object per line on stderr, {"ts":..., "level":..., "msg":..., fields...}.
// Every failure path logs exactly one such line (and bumps a metric); audit records use the same shape so
// a security team can ship stderr to their log store and query fields, not parse prose.
#pragma once

#include <nlohmann/json.hpp>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace podid::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Lines below this level are dropped. Default kInfo; set once at start-up.
void set_min_level(Level level);

// "debug", "info", "warn", "error" (the --log-level values); nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);

// Writes one line; thread-safe (one write(2) per line, so lines never interleave).
void write(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

// As write(), with the fields given already serialized as JSON object members (`"k":v,"k2":v2`, no braces).
// For per-request lines (audit) built without a JSON object; the caller guarantees the members are valid JSON.
void write_members(Level level, std::string_view msg, std::string_view members);

// Whether a line at `level` would be written (skip building it otherwise).
bool enabled(Level level);

// Lines an attacker can cause at will (a malformed request, a refused connection, a failed accept) go through
// a Throttle per call site: at most `per_second` lines a second, the rest dropped and counted, and the count
// carried by the next line let through ("suppressed": N). Floods then cost a few lines a second and never push
// audit lines out of a node's logs; metrics still count every event. Thread-safe.
class Throttle {
 public:
  explicit Throttle(uint32_t per_second) : per_second_(per_second) {}
  // The number of lines dropped since the last one let through, or nullopt: drop this line.
  std::optional<uint64_t> admit();

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> window_{0};  // the current second (steady clock)
  std::atomic<uint32_t> used_{0};
  std::atomic<uint64_t> dropped_{0};
};

inline void debug(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kDebug, msg, f); }
inline void info(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kInfo, msg, f); }
inline void warn(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kWarn, msg, f); }
inline void error(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kError, msg, f); }

}  // namespace podid::log
