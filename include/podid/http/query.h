// SPDX-License-Identifier: Apache-2.0
//
// The raw (still percent-encoded) value of one key in a request target's query: "" for a key without '=',
// nullopt for a key that is absent; the first occurrence wins. For routes that take a plain value (an id);
// the IMDS token request has its own stricter parser (agent/imds/token_request.h).
#pragma once

#include <optional>
#include <string_view>

namespace podid::http {

inline std::optional<std::string_view> query_value(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace podid::http
