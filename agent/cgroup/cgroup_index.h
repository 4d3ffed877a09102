// SPDX-License-Identifier: Apache-2.0
//
// The one index of the kubepods cgroup tree: cgroup id -> pod UID (who is calling, from the ids the kernel
// recorded) and cgroup id -> path (audit lines, whoami). The tree itself is pure data (cgroup_tree.h); this
// file keeps it current from the file system.
//
// The kernel tells the agent the caller's cgroup id and its two ancestors right under the kubepods cgroup (one
// of them is the pod's cgroup whatever the QoS class). The index maps the ids of pod-level cgroups and of
// container cgroups to the pod UID, so a container that exited between connect() and accept() still resolves
// through its pod's id. Layouts: pod_cgroup_name.h.
//
// Kept current by an initial scan plus inotify on every directory the tree keeps (kubepods, QoS, pod,
// container and up to CgroupTree::kMaxDepthBelowPod levels below the pod). cgroup2 reports mkdir as
// IN_CREATE|IN_ISDIR and rmdir as IN_DELETE|IN_ISDIR on the parent only: no IN_DELETE_SELF, and the removed
// directory's watch stays until removed by hand (its inode is pinned by the watch), so removals are taken from
// the parent and the child's watch dropped then. cgroup2 refuses rename; IN_MOVED_* and IN_DELETE_SELF are
// handled for other kernels. inotify gives names, not ids: the id of a new directory is read by
// cgroup_id_of() (the kernfs inode).
//
// Threads: start(), stop() and the destructor on the executor's thread (or while it runs nothing); lookups
// and stats() from any thread (the deny-event reader has its own).
//
// Errors: start() returns Status (inotify or the first scan failed: start-up refuses). Later failures are
// logged and counted: IN_Q_OVERFLOW triggers a full rescan at once; a watch that cannot be added (ENOSPC:
// fs.inotify.max_user_watches) leaves that directory indexed but unwatched and schedules a rescan after
// retry_rescan_after, repeated until every directory is watched.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "podid/result.h"

namespace podid::agent {

struct CgroupIndexStats {
  uint64_t pods = 0;        // pod-level cgroups known now
  uint64_t containers = 0;  // container-level cgroups known now
  uint64_t rescans = 0;     // full scans: start, overflows, retries (unwatched directories, failed rescan)
  uint64_t errors = 0;      // inotify failures (overflow, each watch refused) and id-read failures
};

class CgroupIndex {
 public:
  static constexpr std::chrono::milliseconds kRetryRescanAfter{10'000};

  // kubepods_dir: the cgroup the programs attach to (e.g. /sys/fs/cgroup/kubepods.slice). path_prefix: how
  // paths start in what path_of() returns, kubepods_dir relative to the cgroup2 mount as /proc/<pid>/cgroup
  // shows it ("/kubepods.slice"). retry_rescan_after: how soon to rescan while some directory is unwatched.
  CgroupIndex(boost::asio::any_io_executor executor, std::filesystem::path kubepods_dir, std::string path_prefix = "",
              std::chrono::milliseconds retry_rescan_after = kRetryRescanAfter);
  ~CgroupIndex();

  // Initial scan, then inotify on the executor. Once only.
  Status start();
  // No more updates or callbacks; lookups go on answering from the last state.
  void stop();

  // The pod owning cgroup `id` (a pod-level or container-level cgroup), if known.
  std::optional<std::string> pod_uid_of(uint64_t cgroup_id) const;
  // The path of a kept cgroup ("/kubepods.slice/kubepods-burstable.slice/...scope"), if known.
  std::optional<std::string> path_of(uint64_t cgroup_id) const;
  // The pod's own cgroup: its id and path as path_of() gives it, if known (a scan, for diagnostics).
  std::optional<std::pair<uint64_t, std::string>> pod_cgroup_of(const std::string& pod_uid) const;

  // Called (on the executor) when a pod-level cgroup disappears: the agent drops per-pod state. Register
  // before start().
  void on_pod_removed(std::function<void(const std::string& pod_uid)> callback);

  CgroupIndexStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::agent
