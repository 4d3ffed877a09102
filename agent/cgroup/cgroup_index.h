// SPDX-License-Identifier: Apache-2.0
//
// cgroup id -> path under the kubepods cgroup, for logs and the diagnostic endpoint. Built by scanning the
// tree; an unknown id triggers a rescan (at most one per kMinRescanInterval), so a pod created a moment ago
// resolves on its first call. The inotify-driven index and the pod mapping come with the pod-resolution work;
// this is the minimal, honest version: correct, O(tree) on a miss.
//
// Thread-safe. Errors: a scan that fails leaves the old index; lookups return nullopt.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace podid::agent {

class CgroupIndex {
 public:
  static constexpr std::chrono::milliseconds kMinRescanInterval{100};

  // `root` is the kubepods cgroup directory; paths are reported relative to `mount` (as /proc/<pid>/cgroup
  // shows them, e.g. "/kubepods.slice/kubepods-burstable.slice/...").
  CgroupIndex(std::filesystem::path mount, std::filesystem::path root);

  std::optional<std::string> path_of(uint64_t cgroup_id);

 private:
  void rescan_locked();

  std::filesystem::path mount_, root_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::string> paths_;
  std::chrono::steady_clock::time_point last_scan_{};
};

}  // namespace podid::agent
