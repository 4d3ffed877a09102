// SPDX-License-Identifier: Apache-2.0
//
// The load tools' `--header 'Name: value'` option, read one way for both (bench-http-load, bench-pod-load).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace podid::bench {

// "Name: value" -> {Name, value} (spaces after the colon dropped); nullopt without a colon.
inline std::optional<std::pair<std::string, std::string>> parse_header_option(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string value = text.substr(colon + 1);
  value.erase(0, value.find_first_not_of(' '));
  return std::pair{text.substr(0, colon), std::move(value)};
}

}  // namespace podid::bench
