// SPDX-License-Identifier: Apache-2.0
#include "cli/permissions.h"

#include "podid/ascii.h"

namespace podid::cli {
namespace {

Result<std::vector<std::string>> strings(const nlohmann::json& entry, const char* name) {
  std::vector<std::string> out;
  auto it = entry.find(name);
  if (it == entry.end() || it->is_null()) return out;
  if (!it->is_array()) return Error{std::make_error_code(std::errc::invalid_argument), std::string(name) + " is not an array"};
  for (const auto& v : *it) {
    if (!v.is_string()) return Error{std::make_error_code(std::errc::invalid_argument), std::string(name) + " holds a non-string"};
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Glob match, `*` = any run; iterative with one backtrack point (patterns are short, actions too).
bool glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] != '*' && ascii::lower(p[pi]) == ascii::lower(s[si])) {
      ++pi, ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++, mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1, si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

Result<std::vector<Permission>> parse_permissions(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("value") || !body["value"].is_array()) {
    return Error{std::make_error_code(std::errc::invalid_argument), "permissions answer has no value array"};
  }
  std::vector<Permission> out;
  for (const auto& entry : body["value"]) {
    if (!entry.is_object()) return Error{std::make_error_code(std::errc::invalid_argument), "permission entry is not an object"};
    auto actions = strings(entry, "actions");
    if (!actions) return actions.error();
    auto not_actions = strings(entry, "notActions");
    if (!not_actions) return not_actions.error();
    out.push_back({std::move(actions.value()), std::move(not_actions.value())});
  }
  return out;
}

bool action_matches(std::string_view pattern, std::string_view action) {
  if (glob(pattern, action)) return true;
  // "/*/" standing for no segment at all.
  for (size_t at = pattern.find("/*/"); at != std::string_view::npos; at = pattern.find("/*/", at + 1)) {
    std::string shorter = std::string(pattern.substr(0, at)) + std::string(pattern.substr(at + 2));
    if (action_matches(shorter, action)) return true;
  }
  return false;
}

bool permits(const std::vector<Permission>& permissions, std::string_view action) {
  for (const auto& p : permissions) {
    bool granted = false, denied = false;
    for (const auto& a : p.actions) granted = granted || action_matches(a, action);
    for (const auto& n : p.not_actions) denied = denied || action_matches(n, action);
    if (granted && !denied) return true;
  }
  return false;
}

}  // namespace podid::cli
