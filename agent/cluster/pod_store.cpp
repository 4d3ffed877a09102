// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/pod_store.h"

#include <unordered_set>

#include "podid/log.h"

namespace podid::agent {
namespace {

// metadata.uid when the object has one as a string, else "". json::value() would throw for an item that is not
// an object or a uid that is not a string, and a list page or a DELETED event may hold either.
std::string uid_of(const nlohmann::json& object) {
  if (!object.is_object()) return {};
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  auto uid = metadata->find("uid");
  return uid != metadata->end() && uid->is_string() ? uid->get<std::string>() : std::string();
}

}  // namespace

void PodStore::upsert(const nlohmann::json& object) {
  auto pod = parse_pod(object);
  if (!pod) {
    ++parse_errors_;
    log::warn("pod skipped", {{"pod", object_key(object)}, {"error", pod.error().message()}});
    return;
  }
  std::string uid = pod->uid;
  if (auto hash = object.value("/metadata/annotations/kubernetes.io~1config.mirror"_json_pointer, std::string());
      !hash.empty()) {
    mirror_hash_to_uid_[hash] = uid;
  }
  pods_.insert_or_assign(std::move(uid), std::move(*pod));
}

void PodStore::remove(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  PodInfo gone = std::move(it->second);
  pods_.erase(it);
  std::erase_if(mirror_hash_to_uid_, [&uid](const auto& entry) { return entry.second == uid; });
  for (const auto& cb : removed_) cb(gone);
}

void PodStore::replace(const std::vector<nlohmann::json>& items) {
  std::unordered_set<std::string> seen;
  for (const auto& item : items) {
    upsert(item);
    if (auto uid = uid_of(item); !uid.empty()) seen.insert(uid);
  }
  std::vector<std::string> stale;
  for (const auto& [uid, pod] : pods_) {
    if (!seen.count(uid)) stale.push_back(uid);
  }
  for (const auto& uid : stale) remove(uid);
  ++generation_;
}

void PodStore::apply(k8s::WatchEventType type, const nlohmann::json& object) {
  if (type == k8s::WatchEventType::kDeleted) {
    remove(uid_of(object));
  } else if (type == k8s::WatchEventType::kAdded || type == k8s::WatchEventType::kModified) {
    upsert(object);
  }
  ++generation_;
}

const PodInfo* PodStore::by_uid(std::string_view uid) const {
  auto it = pods_.find(std::string(uid));
  if (it != pods_.end()) return &it->second;
  auto mirror = mirror_hash_to_uid_.find(std::string(uid));
  if (mirror == mirror_hash_to_uid_.end()) return nullptr;
  it = pods_.find(mirror->second);
  return it == pods_.end() ? nullptr : &it->second;
}

}  // namespace podid::agent
