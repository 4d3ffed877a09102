// SPDX-License-Identifier: Apache-2.0
//
// What RFC 9110 §7.6.1 makes hop-by-hop in a message, read independently of the code under test: the fixed set,
// and every name the Connection field lists, over all its field lines (a list field's lines are one list).
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "podid/ascii.h"

namespace podid::fuzz {

// Lower-cased names listed by every Connection field line of `fields`.
template <class Fields>
std::set<std::string> connection_names(const Fields& fields) {
  std::set<std::string> out;
  for (const auto& field : fields) {
    if (!ascii::iequals(field.name_string(), "Connection")) continue;
    std::string_view list = field.value();
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string_view::npos) comma = list.size();
      std::string_view name = list.substr(pos, comma - pos);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (!name.empty()) out.insert(ascii::lowered(name));
      pos = comma + 1;
    }
  }
  return out;
}

// The hop-by-hop fields of RFC 9110 §7.6.1, plus Proxy-Connection, which clients still send.
inline bool always_hop_by_hop(std::string_view name) {
  for (std::string_view hop : {"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
                               "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}) {
    if (ascii::iequals(name, hop)) return true;
  }
  return false;
}

}  // namespace podid::fuzz
