// SPDX-License-Identifier: Apache-2.0
//
// The controller's informer caches: list+watch (k8s::Reflector) of
//   pods carrying the aadpodidbinding label (labelSelector: unlabelled pods never matter, unlike MIC, whose
//     informer held every pod of the cluster and ran a full cycle on each one's creation),
//   nodes, AzureIdentities, AzureIdentityBindings and AzureAssignedIdentities, cluster-wide.
// Objects are kept trimmed to the fields the controller reads (a pod's containers, a node's images and every
// object's managedFields are dropped on arrival): memory grows with what is needed, not with what the API sends.
// Every change bumps generation() and calls on_change, on the executor's thread; the controller coalesces them.
//
// Errors: none escape; the Reflectors retry, count and log. synced() is false until every kind has listed once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/state/desired_state.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/reflector.h"

namespace podid::controller {

enum class CachedKind { kPod, kNode, kIdentity, kBinding, kAssignedIdentity };

// The fields of each kind the controller reads; everything else is dropped before it is stored.
nlohmann::json trim_object(CachedKind kind, const nlohmann::json& object);

// Objects of one kind by "namespace/name" (cluster-scoped: "name"). Immutable once stored and shared with the
// views taken from the cache: an update replaces the pointer, never the object a view may still read.
using ObjectMap = std::map<std::string, std::shared_ptr<const nlohmann::json>, std::less<>>;

class ClusterCache {
 public:
  ClusterCache(boost::asio::any_io_executor executor, k8s::ApiClient& api, std::function<void()> on_change);
  ~ClusterCache();

  void start();
  void stop();

  bool synced() const;
  bool connected() const;
  uint64_t generation() const { return generation_; }
  std::vector<std::pair<std::string, k8s::ReflectorStats>> stats() const;

  const ObjectMap& objects(CachedKind kind) const;
  // Parsed view for desired_state.h. Objects that do not parse are skipped and reported by kind/key with the
  // parser's message in `invalid` (the controller turns them into Events and a metric).
  ClusterSnapshot snapshot(bool force_namespaced, std::vector<DesiredProblem>* invalid) const;
  // The AzureAssignedIdentities, parsed (those that do not parse are skipped and reported likewise).
  std::vector<Cached<crd::AzureAssignedIdentity>> assigned_identities(std::vector<DesiredProblem>* invalid) const;

 private:
  void watch(CachedKind kind, std::string name, std::string path, std::string label_selector);

  boost::asio::any_io_executor executor_;
  k8s::ApiClient& api_;
  std::function<void()> on_change_;
  std::map<CachedKind, ObjectMap> objects_;
  std::vector<std::unique_ptr<k8s::Reflector>> reflectors_;
  uint64_t generation_ = 0;
};

}  // namespace podid::controller
