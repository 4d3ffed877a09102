// SPDX-License-Identifier: Apache-2.0
//
// The pods on this node, by UID, as the node-scoped pod watch (spec.nodeName=<node>) reports them. The agent
// answers from this copy; while the API server is unreachable the copy stays as it was (the reflector does
// not clear it), so serving continues.
//
// Single-threaded: fed and read on the agent's io thread. Errors: objects that do not parse are skipped,
// counted and logged once each.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "podid/crd/crd_types.h"
#include "podid/k8s/api_client.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own

class PodStore {
 public:
  void replace(const std::vector<nlohmann::json>& items);
  void apply(k8s::WatchEventType type, const nlohmann::json& object);

  // By the UID in the pod's cgroup name. For static pods that is the kubelet's config hash, which the mirror
  // pod in the API carries as annotation kubernetes.io/config.mirror (its own UID differs).
  const PodInfo* by_uid(std::string_view uid) const;
  size_t size() const { return pods_.size(); }
  uint64_t parse_errors() const { return parse_errors_; }
  // Bumps on every change; a request waiting for its pod to appear polls it.
  uint64_t generation() const { return generation_; }

  // Fired for each pod that leaves the store (deleted, or absent from a relist): per-pod state goes with it.
  void on_pod_removed(std::function<void(const PodInfo&)> callback) { removed_.push_back(std::move(callback)); }

 private:
  void upsert(const nlohmann::json& object);
  void remove(const std::string& uid);

  std::unordered_map<std::string, PodInfo> pods_;
  std::unordered_map<std::string, std::string> mirror_hash_to_uid_;
  std::vector<std::function<void(const PodInfo&)>> removed_;
  uint64_t parse_errors_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace podid::agent
