// SPDX-License-Identifier: Apache-2.0
#include "controller/state/assigned_index.h"

namespace podid::controller {
namespace {

template <class Map>
void adjust(Map& map, const std::string& key, const ObjectName* name, int sign) {
  if (sign > 0) {
    map[key].insert(name);
    return;
  }
  auto it = map.find(key);
  if (it == map.end()) return;
  it->second.erase(name);
  if (it->second.empty()) map.erase(it);
}

}  // namespace

void AssignedIndex::index(const ObjectName* name, const AssignedRecord& r, int sign) {
  if (r.compute) {
    adjust(by_compute_, *r.compute, name, sign);
  } else {
    adjust(unnamed_by_node_, r.node, name, sign);
  }
  if (!r.pod_uid.empty()) {
    auto& n = by_pod_uid_[{r.ns, r.pod_uid}];
    n = sign > 0 ? n + 1 : n - 1;
    if (n == 0) by_pod_uid_.erase({r.ns, r.pod_uid});
  }
}

std::shared_ptr<const AssignedRecord> AssignedIndex::upsert(std::shared_ptr<const AssignedRecord> record) {
  auto [it, added] = by_name_.try_emplace(ObjectName{record->ns, record->name});
  std::shared_ptr<const AssignedRecord> old = std::move(it->second);
  if (old) index(&it->first, *old, -1);
  index(&it->first, *record, +1);
  it->second = std::move(record);
  return old;
}

std::shared_ptr<const AssignedRecord> AssignedIndex::remove(const ObjectName& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return nullptr;
  auto old = std::move(it->second);
  index(&it->first, *old, -1);
  by_name_.erase(it);
  return old;
}

void AssignedIndex::clear() {
  by_name_.clear();
  by_compute_.clear();
  unnamed_by_node_.clear();
  by_pod_uid_.clear();
}

std::shared_ptr<const AssignedRecord> AssignedIndex::find(const ObjectName& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

AssignedRecords AssignedIndex::naming(std::string_view compute) const {
  AssignedRecords out;
  if (auto it = by_compute_.find(compute); it != by_compute_.end()) {
    for (const ObjectName* n : it->second) out.push_back(by_name_.at(*n));
  }
  return out;
}

AssignedRecords AssignedIndex::unnamed_on(std::string_view node) const {
  AssignedRecords out;
  if (auto it = unnamed_by_node_.find(node); it != unnamed_by_node_.end()) {
    for (const ObjectName* n : it->second) out.push_back(by_name_.at(*n));
  }
  return out;
}

std::set<std::string, std::less<>> AssignedIndex::nodes_with_unnamed() const {
  std::set<std::string, std::less<>> out;
  for (const auto& [node, names] : unnamed_by_node_) out.insert(node);
  return out;
}

std::size_t AssignedIndex::with_pod_uid(std::string_view ns, std::string_view pod_uid) const {
  auto it = by_pod_uid_.find({std::string(ns), std::string(pod_uid)});
  return it == by_pod_uid_.end() ? 0 : it->second;
}

}  // namespace podid::controller
