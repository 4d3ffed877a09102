// SPDX-License-Identifier: Apache-2.0
//
// The durable record of which user-assigned identities podid-controller added to each scale set or VM. Only an
// identity in the ledger may ever be removed (identity_delta.h), so the record must survive restarts and leader
// changes: it lives in the cluster (kube/ledger_store.h keeps one ConfigMap per scale set or VM).
//
// Protocol (identity_sync.h): ids are recorded *before* the PATCH that adds them (a crash after the PATCH
// must not leave an identity nobody may remove), and erased after the PATCH that removed them landed, and after
// a round for ids recorded but found absent (an add that failed), so the ledger converges to "added by podid
// and present".
//
// Errors: Result / Status. A failed read or write stops the round for that resource (nothing is PATCHed
// without the record).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "controller/arm/resource_id.h"
#include "podid/result.h"

namespace podid::controller {

class Ledger {
 public:
  virtual ~Ledger() = default;
  // The ids recorded for `compute` (as they were recorded), empty when none.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> load(const arm::ResourceId& compute) = 0;
  // Replaces the record for `compute` with `ids` (case-insensitive set; an empty set may delete the record).
  virtual boost::asio::awaitable<Status> store(const arm::ResourceId& compute, std::vector<std::string> ids) = 0;
};

}  // namespace podid::controller
