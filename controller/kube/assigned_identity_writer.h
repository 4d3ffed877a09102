// SPDX-License-Identifier: Apache-2.0
//
// Writes AzureAssignedIdentity objects the way the predecessor's MIC did (aad-pod-identity.md §2.5, §3.3), so
// `kubectl get azureassignedidentities` and the agent read the same states: Created on create, Assigned once
// the identity is on the node's scale set, Unassigned just before the three-step delete. The CRD has no status
// subresource (podid keeps the predecessor's CRDs working), so status is written on the main resource with a
// JSON merge patch.
//
// Every AAI carries the finalizer azureassignedidentity.finalizers.aadpodidentity.k8s.io, so a pod's record
// cannot vanish under the controller; remove() is: status Unassigned, DELETE, then drop our finalizer with a
// JSON patch guarded by a `test` of that list entry (it removes exactly our entry even if another finalizer
// was added or removed meanwhile). An object already gone at any step is success.
//
// Errors: Result / Status. HTTP refusals are KubeError (kube_errors.h); create's AlreadyExists and replace's
// Conflict are outcomes, not errors, because the caller's next step depends on them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "controller/kube/metered_api.h"
#include "podid/result.h"

namespace podid::controller::kube {

inline constexpr std::string_view kAssignedIdentityFinalizer = "azureassignedidentity.finalizers.aadpodidentity.k8s.io";
inline constexpr std::string_view kStateCreated = "Created";
inline constexpr std::string_view kStateAssigned = "Assigned";
inline constexpr std::string_view kStateUnassigned = "Unassigned";

struct AssignedIdentityWrite {
  enum class Outcome {
    kWritten,        // created or replaced; `object` is the server's copy
    kAlreadyExists,  // create: an object of that name exists; `object` is what it holds now
    kConflict,       // replace: the resourceVersion was stale; `object` is null (retry from the cache)
  };
  Outcome outcome = Outcome::kWritten;
  nlohmann::json object;
};

// Pure: `object` completed for a create: apiVersion/kind, our finalizer (once), status.status as given (Created
// when absent) with availableReplicas 1, and no server-owned metadata (resourceVersion, uid, creationTimestamp).
nlohmann::json assigned_identity_for_create(nlohmann::json object);

// Pure: the merge patch that sets status.status.
nlohmann::json assigned_state_patch(std::string_view state);

class AssignedIdentityWriter {
 public:
  explicit AssignedIdentityWriter(MeteredApi& api);

  // POST. On 409 AlreadyExists, GETs the existing object and reports kAlreadyExists.
  boost::asio::awaitable<Result<AssignedIdentityWrite>> create(nlohmann::json object);
  // PUT with the object's metadata.resourceVersion (required: without one a PUT would overwrite blindly).
  // Keeps our finalizer. 409 -> kConflict.
  boost::asio::awaitable<Result<AssignedIdentityWrite>> replace(nlohmann::json object);
  // Merge patch {"status":{"status":S,"availableReplicas":1}}. 404 is KubeError::kNotFound.
  boost::asio::awaitable<Status> set_state(std::string ns, std::string name, std::string state);
  // Unassigned, DELETE, drop the finalizer; the object gone at any point is success.
  boost::asio::awaitable<Status> remove(std::string ns, std::string name);

  static constexpr int kMaxFinalizerAttempts = 5;

 private:
  static std::string path(std::string_view ns, std::string_view name = "");
  // Drops our finalizer from `object` (the latest copy seen), re-reading on a failed test op.
  boost::asio::awaitable<Status> drop_finalizer(std::string ns, std::string name, nlohmann::json object);

  MeteredApi& api_;
};

}  // namespace podid::controller::kube
