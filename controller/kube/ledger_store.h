// SPDX-License-Identifier: Apache-2.0
//
// The Ledger (reconcile/ledger.h) kept in the cluster: one ConfigMap per scale set or VM in the controller's
// namespace, so the record of what podid added survives restarts and leader changes, and an operator can read
// it with kubectl:
//
//   metadata.name                     podid-ledger-<first 16 hex of SHA-256(canonical key of the compute id)>
//   labels[app.kubernetes.io/managed-by]  podid-controller    (list_ledgers() selects on it)
//   annotations[podid.io/resource-id] the compute's id       (the hash is not reversible; this is the truth)
//   data.identities                   JSON array of user-assigned identity ids, sorted by canonical key
//
// A name is a hash because ARM ids are longer than a ConfigMap name may be and contain '/'. 64 bits make a
// collision unlikely; one is still detected (the annotation names another resource) and refused, never
// merged. An emptied record stays as a ConfigMap holding [] rather than being deleted: a delete racing a
// re-create from another leader is one more case to reason about, and the empty object is an audit trail.
//
// Writes use the resourceVersion read (optimistic concurrency); on 409 the write is re-read and retried a
// few times. A store that changes nothing (the same set of ids, compared ignoring case) writes nothing: every
// write wakes every watcher of ConfigMaps.
//
// Errors: Result / Status, as the Ledger interface. HTTP refusals are KubeError (kube_errors.h); a ConfigMap
// naming another resource is KubeError::kNameCollision; unreadable data is KubeError::kMalformedObject.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/arm/resource_id.h"
#include "controller/kube/metered_api.h"
#include "controller/reconcile/ledger.h"
#include "podid/result.h"

namespace podid::controller::kube {

inline constexpr std::string_view kLedgerNamePrefix = "podid-ledger-";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "podid-controller";
inline constexpr std::string_view kResourceIdAnnotation = "podid.io/resource-id";
inline constexpr std::string_view kLedgerDataKey = "identities";

// Pure parts, tested without a server.
std::string ledger_name(const arm::ResourceId& compute);
// Deduplicated ignoring case (the first spelling wins), sorted by canonical key.
std::vector<std::string> normalized_ledger(std::vector<std::string> ids);
// The ids recorded in `config_map` for `compute`.
Result<std::vector<std::string>> ledger_ids(const nlohmann::json& config_map, const arm::ResourceId& compute);
// A ConfigMap recording `ids` for `compute` (ids as given; normalise first).
nlohmann::json ledger_config_map(std::string_view ns, const arm::ResourceId& compute,
                                 const std::vector<std::string>& ids);

struct LedgerEntry {
  arm::ResourceId compute;
  std::vector<std::string> ids;  // may be empty: a record emptied earlier
};

class ConfigMapLedger final : public Ledger {
 public:
  ConfigMapLedger(MeteredApi& api, std::string ns);

  boost::asio::awaitable<Result<std::vector<std::string>>> load(const arm::ResourceId& compute) override;
  boost::asio::awaitable<Status> store(const arm::ResourceId& compute, std::vector<std::string> ids) override;

  // Every record in the namespace (label selected, paged), sorted by compute key: the controller visits these
  // scale sets even when no node of the cluster is on them any more. A ConfigMap that is not a readable
  // record (annotation missing or not a scale set / VM id, name not matching it, bad data) is logged and left
  // out: skipping a record can only keep identities, never remove one.
  boost::asio::awaitable<Result<std::vector<LedgerEntry>>> list_ledgers();

  static constexpr int kMaxWriteAttempts = 5;

 private:
  std::string path(std::string_view name = "") const;

  MeteredApi& api_;
  std::string ns_;
};

}  // namespace podid::controller::kube
