// SPDX-License-Identifier: Apache-2.0
//
// Writes AzureAssignedIdentity objects the way the predecessor's MIC did (aad-pod-identity.md §2.5, §3.3), so
// `kubectl get azureassignedidentities` and the agent read the same states: Created on create, Assigned once
// the identity is on the node's scale set, Unassigned just before the three-step delete. The CRD has no status
// subresource (podid keeps the predecessor's CRDs working), so status is written on the main resource with a
// JSON merge patch.
//
// Every AAI carries the finalizer azureassignedidentity.finalizers.aadpodidentity.k8s.io, so a pod's record
// cannot vanish under the controller. Removal keeps it to the last write: DELETE (the object stays, marked for
// deletion), then finalize(): one JSON patch that writes status Unassigned and drops our finalizer, guarded by
// a `test` of that list entry (it removes exactly our entry even if another finalizer was added or removed
// meanwhile); with no other finalizer the API server then removes the object, whose last state watchers see is
// Unassigned. Two writes per AAI, or one: delete_collection() marks every AAI of some pods (by kPodUidLabel)
// for deletion in one request, and each then needs only its finalize(). An object already gone at any step is
// success.
//
// Errors: Result / Status. HTTP refusals are KubeError (kube_errors.h); create's AlreadyExists and replace's
// Conflict are outcomes, not errors, because the caller's next step depends on them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/kube/metered_api.h"
#include "podid/result.h"

namespace podid::controller::kube {

inline constexpr std::string_view kAssignedIdentityFinalizer = "azureassignedidentity.finalizers.aadpodidentity.k8s.io";
inline constexpr std::string_view kPodUidLabel = "podid.io/pod-uid";
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
  // GET, change(current), PUT with the current resourceVersion. 409 -> kConflict; 404 is KubeError::kNotFound.
  boost::asio::awaitable<Result<AssignedIdentityWrite>> update(
      std::string ns, std::string name, std::function<nlohmann::json(nlohmann::json current)> change);
  // Merge patch {"status":{"status":S,"availableReplicas":1}}; the server's copy. 404 is KubeError::kNotFound.
  boost::asio::awaitable<Result<nlohmann::json>> set_state(std::string ns, std::string name, std::string state);
  // DELETE, then finalize() (`has_finalizer`: the caller's copy carries ours; without it: Unassigned, then DELETE).
  // The object gone at any point is success. Returns the server's last copy (null when it had none to give).
  boost::asio::awaitable<Result<nlohmann::json>> remove(std::string ns, std::string name, bool has_finalizer = true);
  // On an AAI marked for deletion: Unassigned and our finalizer dropped, in one JSON patch. `finalizer_hint`:
  // the index of ours in the caller's copy (-1: read the object first). Gone is success. Returns the server's
  // last copy (null when it had none to give).
  boost::asio::awaitable<Result<nlohmann::json>> finalize(std::string ns, std::string name, int finalizer_hint);
  // Marks for deletion every AAI in `ns` labelled kPodUidLabel with one of `pod_uids` (DELETE of the collection
  // with a label selector; batches of kMaxUidsPerRequest).
  boost::asio::awaitable<Status> delete_collection(std::string ns, std::vector<std::string> pod_uids);

  static constexpr int kMaxFinalizerAttempts = 5;
  static constexpr std::size_t kMaxUidsPerRequest = 50;  // a label selector of about 2 KB

 private:
  static std::string path(std::string_view ns, std::string_view name = "");

  MeteredApi& api_;
};

}  // namespace podid::controller::kube
