// SPDX-License-Identifier: Apache-2.0
#include "base64.h"

#include <cstdint>

namespace podid::k8s::detail {
namespace {

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  size_t quad = 0;     // characters in the current group of four, padding included
  size_t padding = 0;  // '=' seen; after one, only whitespace and the group's other '=' may follow
  for (char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      if (quad < 2) return std::nullopt;  // "=" can only stand for the 3rd and 4th characters
      ++padding;
      acc <<= 6;
    } else {
      int v = sextet(c);
      if (v < 0 || padding > 0) return std::nullopt;
      acc = (acc << 6) | static_cast<uint32_t>(v);
    }
    if (++quad == 4) {
      out.push_back(static_cast<char>((acc >> 16) & 0xff));
      if (padding < 2) out.push_back(static_cast<char>((acc >> 8) & 0xff));
      if (padding < 1) out.push_back(static_cast<char>(acc & 0xff));
      acc = 0;
      quad = 0;
      // padding stays set: a padded group ends the data, so any character after it is refused above
    }
  }
  if (quad != 0) return std::nullopt;
  return out;
}

}  // namespace podid::k8s::detail
