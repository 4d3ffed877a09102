// SPDX-License-Identifier: Apache-2.0
//
// The controller's informer caches: list+watch (k8s::Reflector) of
//   pods carrying the aadpodidbinding label (labelSelector: unlabelled pods never matter, unlike MIC, whose
//     informer held every pod of the cluster and ran a full cycle on each one's creation),
//   nodes, AzureIdentities, AzureIdentityBindings and AzureAssignedIdentities, cluster-wide.
// Each object is parsed once, on arrival, into a compact record (state/records.h) and the JSON dropped; lists
// are paged and taken object by object as they stream, so no list is ever held whole. Records feed the
// desired index (state/desired_index.h) and the index of existing AzureAssignedIdentities
// (state/assigned_index.h) change by change; a relist is applied as the changes it implies.
//
// Every change that reaches something calls on_change with its Reach (the compute keys it touched), on the
// executor's thread; so does every completed list, whatever it reached (synced() may have just become true).
//
// What the controller writes comes back through the AzureAssignedIdentity watch, a moment later; observe_written
// applies the server's answer at once (client-go's mutation cache), so a round that starts before the watch
// event arrives does not write the same thing again. An event older than what was observed is ignored.
//
// Errors: none escape; the Reflectors retry, count and log. Objects that do not parse are left out and listed in
// invalid(). synced() is false until every kind has listed once.
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

#include "controller/state/assigned_index.h"
#include "controller/state/compute_slice.h"
#include "controller/state/desired_index.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/reflector.h"

namespace podid::controller {

enum class CachedKind { kPod, kNode, kIdentity, kBinding, kAssignedIdentity };

class ClusterCache {
 public:
  ClusterCache(boost::asio::any_io_executor executor, k8s::ApiClient& api, bool force_namespaced,
               std::function<void(Reach)> on_change);
  ~ClusterCache();

  void start();
  void stop();

  bool synced() const;
  bool connected() const;
  std::vector<std::pair<std::string, k8s::ReflectorStats>> stats() const;

  const DesiredIndex& desired() const { return desired_; }
  const AssignedIndex& assigned() const { return assigned_; }
  DesiredIndex& desired_for_rebuild() { return desired_; }
  ComputeSlice slice(std::string_view compute, const std::vector<std::string>& immutable_client_ids) const;
  // Objects that did not parse, as problems (reason "InvalidObject"), by kind/key.
  std::vector<DesiredProblem> invalid() const;

  // The server's answer to a write of an AzureAssignedIdentity (an object; one marked for deletion without
  // finalizers is gone).
  void observe_written(const nlohmann::json& object);

  // The Reflectors' handlers (public for tests): a watch event, and the objects of a list as they stream
  // (applied as the changes they imply once the list completes; dropped when it broke off).
  void apply(CachedKind kind, k8s::WatchEventType type, const nlohmann::json& object);
  void list_item(CachedKind kind, nlohmann::json&& object);
  void list_end(CachedKind kind, bool complete);

 private:
  struct Kind;
  void watch(CachedKind kind, std::string name, std::string path, std::string label_selector);
  Reach upsert(CachedKind kind, const nlohmann::json& object);
  Reach remove(CachedKind kind, const ObjectName& name);
  Reach upsert_assigned(std::shared_ptr<const AssignedRecord> record);
  Reach remove_assigned(const ObjectName& name);
  Reach assigned_reach(const AssignedRecord& record) const;
  std::vector<ObjectName> held(CachedKind kind) const;  // the names a kind's records are kept under
  void changed(Reach reach);

  boost::asio::any_io_executor executor_;
  k8s::ApiClient& api_;
  std::function<void(Reach)> on_change_;
  DesiredIndex desired_;
  AssignedIndex assigned_;
  std::map<CachedKind, std::unique_ptr<Kind>> kinds_;
  std::vector<std::unique_ptr<k8s::Reflector>> reflectors_;
  // AzureAssignedIdentities: the newest resourceVersion this cache holds or saw go, by name (watch events at or
  // below it are older than what observe_written applied).
  std::map<ObjectName, std::uint64_t> assigned_versions_;
};

}  // namespace podid::controller
