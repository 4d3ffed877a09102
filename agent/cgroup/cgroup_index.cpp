// SPDX-License-Identifier: Apache-2.0
#include "agent/cgroup/cgroup_index.h"

#include <sys/stat.h>

namespace podid::agent {
namespace fs = std::filesystem;

CgroupIndex::CgroupIndex(fs::path mount, fs::path root) : mount_(std::move(mount)), root_(std::move(root)) {}

std::optional<std::string> CgroupIndex::path_of(uint64_t cgroup_id) {
  std::lock_guard lock(mu_);
  if (auto it = paths_.find(cgroup_id); it != paths_.end()) return it->second;
  if (std::chrono::steady_clock::now() - last_scan_ < kMinRescanInterval) return std::nullopt;
  rescan_locked();
  if (auto it = paths_.find(cgroup_id); it != paths_.end()) return it->second;
  return std::nullopt;
}

void CgroupIndex::rescan_locked() {
  last_scan_ = std::chrono::steady_clock::now();
  std::unordered_map<uint64_t, std::string> fresh;
  std::error_code ec;
  auto add = [&](const fs::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) fresh[st.st_ino] = "/" + fs::relative(dir, mount_, ec).string();
  };
  add(root_);
  // Cgroups come and go during the walk: skip what vanished instead of failing the scan.
  for (fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) add(it->path());
  }
  paths_ = std::move(fresh);
}

}  // namespace podid::agent
