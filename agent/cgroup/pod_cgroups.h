// SPDX-License-Identifier: Apache-2.0
//
// cgroup id -> pod UID, from the cgroup v2 tree the kubelet lays out.
//
// The kernel tells the agent the caller's cgroup id and its two ancestors right under the kubepods cgroup
// (one of them is the pod's cgroup whatever the QoS class). The index maps the ids of pod-level cgroups and
// of container cgroups to the pod UID, so a container that exited between connect() and accept() still
// resolves through its pod's id.
//
// Layouts (both cgroup drivers, every runtime):
//   systemd:  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/
//               cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope   (crio-conmon-<id>.scope skipped)
//             kubepods.slice/kubepods-pod<uid>.slice/...                           (guaranteed QoS)
//   cgroupfs: kubepods/burstable/pod<uid-with-dashes>/<container id>
//             kubepods/pod<uid>/<container id>
// The pause (sandbox) container is a container like any other.
//
// Kept current by an initial scan plus inotify on every directory it indexes (kubepods, QoS, pod, container
// and up to kMaxDepthBelowPod levels below the pod). cgroup2 reports mkdir as IN_CREATE|IN_ISDIR and rmdir
// as IN_DELETE|IN_ISDIR on the parent only: no IN_DELETE_SELF, and the removed directory's watch stays until
// removed by hand (its inode is pinned by the watch), so removals are taken from the parent and the child's
// watch dropped then. cgroup2 refuses rename; IN_MOVED_* and IN_DELETE_SELF are handled for other kernels.
// inotify gives names, not ids: the id of a new directory is read by cgroup_id_of() (the kernfs inode).
//
// Threads: start(), stop() and the destructor on the executor's thread (or while it runs nothing); lookups
// and stats() from any thread.
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
#include <string_view>

#include "podid/result.h"

namespace podid::agent {

// What a cgroup directory name or relative path says about a pod. Pure; tested on tables of real names.
struct PodCgroupName {
  // Canonical form: lower-case, with dashes (8-4-4-4-12). Static pods (node manifests) have the kubelet's
  // 32-hex config hash as UID instead; it is kept as is (the mirror pod's kubernetes.io/config.hash).
  std::string pod_uid;
  bool pod_level = false;    // the pod's own cgroup (not a container under it)
  std::string container_id;  // for container-level names; empty for pod level
};

// `relative` is the path below the kubepods cgroup ("kubepods-burstable.slice/kubepods-burstable-pod..slice/
// cri-containerd-...scope" or "burstable/pod.../abc"). nullopt for QoS slices, conmon scopes and anything
// that is not a pod or container cgroup. The path never starts with the kubepods directory's own name.
// Container ids are 64 lower-case hex (every CRI runtime); cgroupfs names are "<id>" (containerd, docker)
// or "crio-<id>" (CRI-O). Anything below a container's cgroup is that container's.
std::optional<PodCgroupName> parse_pod_cgroup_path(std::string_view relative);

// True for a QoS class cgroup right below kubepods ("kubepods-burstable.slice", "besteffort", ...): not a
// pod, but pods live below it.
bool is_qos_cgroup_path(std::string_view relative);

struct PodCgroupIndexStats {
  uint64_t pods = 0;        // pod-level cgroups known now
  uint64_t containers = 0;  // container-level cgroups known now
  uint64_t rescans = 0;     // full scans: start, overflows, retries (unwatched directories, failed rescan)
  uint64_t errors = 0;      // inotify failures (overflow, each watch refused) and id-read failures
};

class PodCgroupIndex {
 public:
  // Directories deeper than this below a pod's cgroup are neither indexed nor watched (callers there resolve
  // through their pod-level ancestor); bounds the watches a pod that nests cgroups can cost.
  static constexpr int kMaxDepthBelowPod = 4;
  static constexpr std::chrono::milliseconds kRetryRescanAfter{10'000};

  // kubepods_dir: the cgroup the programs attach to (e.g. /sys/fs/cgroup/kubepods.slice).
  // retry_rescan_after: how soon to rescan while some directory could not be watched.
  PodCgroupIndex(boost::asio::any_io_executor executor, std::filesystem::path kubepods_dir,
                 std::chrono::milliseconds retry_rescan_after = kRetryRescanAfter);
  ~PodCgroupIndex();

  // Initial scan, then inotify on the executor. Once only.
  Status start();
  // No more updates or callbacks; lookups go on answering from the last state.
  void stop();

  // The pod owning cgroup `id` (a pod-level or container-level cgroup), if known.
  std::optional<std::string> pod_uid_of(uint64_t cgroup_id) const;

  // Called (on the executor) when a pod-level cgroup disappears: the agent drops per-pod state. Register
  // before start().
  void on_pod_removed(std::function<void(const std::string& pod_uid)> callback);

  PodCgroupIndexStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::agent
