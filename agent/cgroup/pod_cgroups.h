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
// Kept current by an initial scan plus inotify (IN_CREATE / IN_DELETE_SELF / IN_MOVED_* on every directory
// down to pod level; container directories are read when they appear). inotify gives names, not ids: the id
// of a new directory is read with name_to_handle_at, as the kernel defines a cgroup id (its kernfs inode).
//
// Errors: start() returns Status (inotify or the first scan failed: start-up refuses). Later failures
// (IN_Q_OVERFLOW, a watch that cannot be added) trigger a full rescan and are counted.
#pragma once

#include <boost/asio/any_io_executor.hpp>
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
  std::string pod_uid;       // canonical form: lower-case, with dashes (8-4-4-4-12)
  bool pod_level = false;    // the pod's own cgroup (not a container under it)
  std::string container_id;  // for container-level names; empty for pod level
};

// `relative` is the path below the kubepods cgroup ("kubepods-burstable.slice/kubepods-burstable-pod..slice/
// cri-containerd-...scope" or "burstable/pod.../abc"). nullopt for QoS slices, conmon scopes and anything
// that is not a pod or container cgroup.
std::optional<PodCgroupName> parse_pod_cgroup_path(std::string_view relative);

struct PodCgroupIndexStats {
  uint64_t pods = 0;        // pod-level cgroups known now
  uint64_t containers = 0;  // container-level cgroups known now
  uint64_t rescans = 0;     // full rescans (start + overflows + failures)
  uint64_t errors = 0;      // inotify or id-read failures
};

class PodCgroupIndex {
 public:
  // kubepods_dir: the cgroup the programs attach to (e.g. /sys/fs/cgroup/kubepods.slice).
  PodCgroupIndex(boost::asio::any_io_executor executor, std::filesystem::path kubepods_dir);
  ~PodCgroupIndex();

  // Initial scan, then inotify on the executor.
  Status start();
  void stop();

  // The pod owning cgroup `id` (a pod-level or container-level cgroup), if known.
  std::optional<std::string> pod_uid_of(uint64_t cgroup_id) const;

  // Called (on the executor) when a pod-level cgroup appears or disappears: the agent drops per-pod state.
  void on_pod_removed(std::function<void(const std::string& pod_uid)> callback);

  PodCgroupIndexStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::agent
