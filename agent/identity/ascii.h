// SPDX-License-Identifier: Apache-2.0
//
// ASCII case folding for Azure ids (client, object and resource ids are case-insensitive) and for the few
// Kubernetes values the predecessor compared ignoring case. ASCII only, on purpose: ids are ASCII, and
// locale-aware folding would make the per-request path depend on the process locale.
#pragma once

#include <string>
#include <string_view>

namespace podid::agent {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string ascii_lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace podid::agent
