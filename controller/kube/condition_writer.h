// SPDX-License-Identifier: Apache-2.0
//
// status.conditions on an AzureIdentity or AzureIdentityBinding, in metav1.Condition's shape ({type, status
// "True"|"False", reason, message, lastTransitionTime, observedGeneration}), so `kubectl describe` and tools
// that read conditions (kubectl wait --for=condition=...) see why an identity is not usable.
//
// A write only happens when the condition differs from the one the object holds (status, reason, message or
// observedGeneration): every write wakes every watcher of the type (agents on every node), so a reconcile
// loop that re-states the same condition must cost nothing. lastTransitionTime moves only when status flips,
// as meta.SetStatusCondition does. The caller passes the object from its informer cache; the patch carries
// that object's resourceVersion as a precondition, so a condition written by another writer meanwhile is not
// overwritten (KubeError::kConflict: retry when the cache has the newer object).
//
// The predecessor's CRDs have no status subresource, so this is a JSON merge patch of the main resource
// (which replaces the whole conditions list: the patch carries the full list, other types kept).
//
// Errors: Result. HTTP refusals are KubeError (kube_errors.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/kube/metered_api.h"
#include "podid/clock.h"
#include "podid/result.h"

namespace podid::controller::kube {

struct Condition {
  std::string type;  // e.g. "Ready", "Assigned"
  bool status = false;
  std::string reason;  // CamelCase, e.g. "MissingRoleAssignment"
  std::string message;
};

enum class ConditionTarget { kAzureIdentity, kAzureIdentityBinding };

// Pure: the merge patch that sets `condition` on `current`, or nullopt when `current` already holds it
// (observedGeneration = current's metadata.generation).
std::optional<nlohmann::json> condition_patch(const nlohmann::json& current, const Condition& condition,
                                              std::chrono::system_clock::time_point now);

class ConditionWriter {
 public:
  explicit ConditionWriter(MeteredApi& api, const WallClock* clock = nullptr);

  // true: written; false: nothing to write. `current` is read before the first suspension only.
  boost::asio::awaitable<Result<bool>> set(ConditionTarget target, const nlohmann::json& current,
                                           Condition condition);

 private:
  MeteredApi& api_;
  SystemWallClock system_clock_;
  const WallClock* clock_;
};

}  // namespace podid::controller::kube
