// SPDX-License-Identifier: Apache-2.0
#include "agent/cgroup/proc_text.h"

#include <sstream>

namespace podid::agent::detail {
namespace {

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo (three octal digits); a backslash followed by
// anything else is not an escape and is kept as written.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out.push_back(static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> cgroup2_mount_in_mountinfo(std::string_view mountinfo) {
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  std::optional<std::string> fallback;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint;
    fields >> id >> parent >> dev >> root >> mountpoint;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2" || mountpoint.empty()) continue;
    std::string mp = unescape_mountinfo(mountpoint);
    if (root == "/") return mp;
    if (!fallback) fallback = mp;
  }
  return fallback;
}

std::optional<std::string> unified_cgroup_path_in(std::string_view proc_cgroup) {
  std::istringstream in{std::string(proc_cgroup)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return std::nullopt;
}

bool procs_list_contains(std::string_view cgroup_procs, pid_t pid) {
  std::istringstream in{std::string(cgroup_procs)};
  pid_t p = 0;
  while (in >> p) {
    if (p == pid) return true;
  }
  return false;
}

}  // namespace podid::agent::detail
