// SPDX-License-Identifier: Apache-2.0
//
// The kubepods cgroup subtree as the agent knows it, and the two lookups it answers: cgroup id -> pod UID (who
// is calling) and cgroup id -> path (for audit lines and whoami). Pure data: no file system, no inotify; the
// watcher (cgroup_index.h) reads the directories and their ids and tells the tree what appeared and vanished.
//
// What is kept: kubepods itself, its QoS cgroups, every pod cgroup, and the cgroups below a pod down to
// kMaxDepthBelowPod levels (containers, and what runtimes nest in them). Pods and containers are indexed by id
// for pod_uid_of; every kept cgroup is indexed by id for path_of. Anything else below kubepods (a cgroup that is
// not a pod's) is neither kept nor watched: the kernel's record names its caller's pod-level ancestor, which is.
//
// Not thread-safe: the index guards it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace podid::agent {

enum class CgroupKind { kRoot, kQos, kPod, kContainer };

struct CgroupNode {
  CgroupKind kind = CgroupKind::kRoot;
  int below_pod = 0;  // 0 for the pod's own cgroup, 1 for a container's, 2 below that...
  std::string pod_uid;
  uint64_t id = 0;
  int wd = -1;  // the watcher's handle; -1: not watched
};

class CgroupTree {
 public:
  // Directories deeper than this below a pod's cgroup are neither kept nor watched (callers there resolve
  // through their pod-level ancestor); bounds the watches a pod that nests cgroups can cost.
  static constexpr int kMaxDepthBelowPod = 4;

  // What the directory `rel` (relative to kubepods) below `parent` is to the tree, or nullopt: not kept.
  static std::optional<CgroupNode> classify(const CgroupNode& parent, const std::string& rel);

  const CgroupNode* find(const std::string& rel) const;
  // Keeps `node` at `rel` (an existing node there is replaced) and indexes it.
  const CgroupNode& insert(const std::string& rel, CgroupNode node);
  // Forgets `rel` and everything below it, calling `dropped` for each node first.
  void erase_subtree(const std::string& rel, const std::function<void(const CgroupNode&)>& dropped);
  // Records that the watcher now watches `rel` (or that its watch is gone, wd -1).
  void set_watch(const std::string& rel, int wd);
  // The node a watch belongs to, by path; nullopt for a watch the tree does not know.
  std::optional<std::string> path_of_watch(int wd) const;

  std::optional<std::string> pod_uid_of(uint64_t cgroup_id) const;
  // Relative to kubepods ("" is kubepods itself).
  std::optional<std::string> relative_path_of(uint64_t cgroup_id) const;
  // The pod's own cgroup (id, path relative to kubepods), if kept. A scan: for diagnostics, not the token path.
  std::optional<std::pair<uint64_t, std::string>> pod_cgroup_of(const std::string& pod_uid) const;

  const std::map<std::string, CgroupNode>& nodes() const { return nodes_; }
  std::vector<std::string> pod_uids() const;
  uint64_t pod_cgroups() const { return pod_cgroups_; }
  uint64_t container_cgroups() const { return container_cgroups_; }
  size_t unwatched() const { return unwatched_; }
  const std::unordered_map<int, std::string>& watches() const { return path_of_wd_; }

 private:
  void index(const std::string& rel, const CgroupNode& node);
  void unindex(const CgroupNode& node);

  std::map<std::string, CgroupNode> nodes_;  // relative path -> node; sorted, so a subtree is a range
  std::unordered_map<int, std::string> path_of_wd_;
  std::unordered_map<uint64_t, std::string> path_of_id_;  // every kept cgroup
  // Pods and containers: id -> slot, a slot per pod counting its known cgroups (a pod's UID is stored once).
  struct Pod {
    std::string uid;
    uint32_t cgroups = 0;
  };
  std::vector<Pod> pods_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<std::string, uint32_t> slot_of_uid_;
  std::unordered_map<uint64_t, uint32_t> slot_of_id_;
  uint64_t pod_cgroups_ = 0;
  uint64_t container_cgroups_ = 0;
  size_t unwatched_ = 0;
};

}  // namespace podid::agent
