// SPDX-License-Identifier: Apache-2.0
#include "agent/cgroup/cgroup_tree.h"

#include "agent/cgroup/pod_cgroup_name.h"

namespace podid::agent {

std::optional<CgroupNode> CgroupTree::classify(const CgroupNode& parent, const std::string& rel) {
  switch (parent.kind) {
    case CgroupKind::kRoot:
      if (is_qos_cgroup_path(rel)) return CgroupNode{.kind = CgroupKind::kQos};
      [[fallthrough]];
    case CgroupKind::kQos: {
      auto name = parse_pod_cgroup_path(rel);
      if (!name || !name->pod_level) return std::nullopt;
      return CgroupNode{.kind = CgroupKind::kPod, .pod_uid = std::move(name->pod_uid)};
    }
    case CgroupKind::kPod:
    case CgroupKind::kContainer: {
      if (parent.below_pod + 1 > kMaxDepthBelowPod) return std::nullopt;
      auto name = parse_pod_cgroup_path(rel);
      if (!name || name->pod_level) return std::nullopt;
      return CgroupNode{
          .kind = CgroupKind::kContainer, .below_pod = parent.below_pod + 1, .pod_uid = std::move(name->pod_uid)};
    }
  }
  return std::nullopt;
}

const CgroupNode* CgroupTree::find(const std::string& rel) const {
  auto it = nodes_.find(rel);
  return it == nodes_.end() ? nullptr : &it->second;
}

const CgroupNode& CgroupTree::insert(const std::string& rel, CgroupNode node) {
  if (auto it = nodes_.find(rel); it != nodes_.end()) {
    unindex(it->second);
    nodes_.erase(it);
  }
  auto& kept = nodes_.emplace(rel, std::move(node)).first->second;
  index(rel, kept);
  return kept;
}

void CgroupTree::erase_subtree(const std::string& rel, const std::function<void(const CgroupNode&)>& dropped) {
  auto drop = [&](const CgroupNode& n) {
    if (dropped) dropped(n);
    unindex(n);
  };
  if (auto it = nodes_.find(rel); it != nodes_.end()) {
    drop(it->second);
    nodes_.erase(it);
  }
  // '0' follows '/': [rel/, rel0) is exactly the paths below rel (rel-x and rel.x sort outside it).
  auto first = nodes_.lower_bound(rel + "/");
  auto last = nodes_.lower_bound(rel + "0");
  for (auto it = first; it != last; ++it) drop(it->second);
  nodes_.erase(first, last);
}

void CgroupTree::set_watch(const std::string& rel, int wd) {
  auto it = nodes_.find(rel);
  if (it == nodes_.end()) return;
  CgroupNode& node = it->second;
  if (node.wd >= 0) {
    path_of_wd_.erase(node.wd);
  } else {
    --unwatched_;
  }
  node.wd = wd;
  if (wd >= 0) {
    path_of_wd_[wd] = rel;
  } else {
    ++unwatched_;
  }
}

std::optional<std::string> CgroupTree::path_of_watch(int wd) const {
  auto it = path_of_wd_.find(wd);
  if (it == path_of_wd_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> CgroupTree::pod_uid_of(uint64_t cgroup_id) const {
  auto it = slot_of_id_.find(cgroup_id);
  if (it == slot_of_id_.end()) return std::nullopt;
  return pods_[it->second].uid;
}

std::optional<std::string> CgroupTree::relative_path_of(uint64_t cgroup_id) const {
  auto it = path_of_id_.find(cgroup_id);
  if (it == path_of_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::pair<uint64_t, std::string>> CgroupTree::pod_cgroup_of(const std::string& pod_uid) const {
  for (const auto& [rel, n] : nodes_) {
    if (n.kind == CgroupKind::kPod && n.pod_uid == pod_uid) return std::make_pair(n.id, rel);
  }
  return std::nullopt;
}

std::vector<std::string> CgroupTree::pod_uids() const {
  std::vector<std::string> out;
  for (const auto& [rel, n] : nodes_) {
    if (n.kind == CgroupKind::kPod) out.push_back(n.pod_uid);
  }
  return out;
}

void CgroupTree::index(const std::string& rel, const CgroupNode& node) {
  if (node.wd >= 0) {
    path_of_wd_[node.wd] = rel;
  } else {
    ++unwatched_;
  }
  path_of_id_[node.id] = rel;
  if (node.kind != CgroupKind::kPod && node.kind != CgroupKind::kContainer) return;
  auto [it, inserted] = slot_of_uid_.try_emplace(node.pod_uid, 0);
  if (inserted) {
    if (free_slots_.empty()) {
      it->second = static_cast<uint32_t>(pods_.size());
      pods_.emplace_back();
    } else {
      it->second = free_slots_.back();
      free_slots_.pop_back();
    }
    pods_[it->second].uid = node.pod_uid;
  }
  ++pods_[it->second].cgroups;
  slot_of_id_[node.id] = it->second;
  ++(node.kind == CgroupKind::kPod ? pod_cgroups_ : container_cgroups_);
}

void CgroupTree::unindex(const CgroupNode& node) {
  if (node.wd >= 0) {
    path_of_wd_.erase(node.wd);
  } else {
    --unwatched_;
  }
  path_of_id_.erase(node.id);
  auto it = slot_of_id_.find(node.id);
  if (it == slot_of_id_.end()) return;
  uint32_t slot = it->second;
  slot_of_id_.erase(it);
  --(node.kind == CgroupKind::kPod ? pod_cgroups_ : container_cgroups_);
  if (--pods_[slot].cgroups == 0) {
    slot_of_uid_.erase(pods_[slot].uid);
    pods_[slot].uid.clear();
    free_slots_.push_back(slot);
  }
}

}  // namespace podid::agent
