// SPDX-License-Identifier: Apache-2.0
//
// The AzureAssignedIdentity (AAI) objects podid-controller writes, and the plan that turns the existing ones
// into the desired ones, for the whole cluster or one compute's share of it. Pure, no I/O.
//
// Object shape (aad-pod-identity.md §3.3, what `kubectl get azureassignedidentities` users and the agent read):
// name <pod>-<podNamespace>-<identity>, label nodename=<node>, MIC's finalizer, spec {azureIdentityRef,
// azureBindingRef, pod, podNamespace, nodename}, status {status, availableReplicas: 1}, plus the annotation
// kComputeAnnotation naming the scale set or VM the assignment stands for and the label kPodUidLabel naming
// the pod (by uid) it was written for.
//
// The embedded identity and binding are copies trimmed to apiVersion, kind, metadata {name, namespace, uid,
// labels, annotations} and spec. resourceVersion, generation, managedFields, creationTimestamp and status are
// dropped: the controller writes conditions into identity and binding status, and a copy that changed with
// every status write would make every AAI look outdated (MIC compared resourceVersions and churned). kubectl's
// last-applied-configuration annotation is dropped too (a second copy of the whole manifest).
//
// Plan, per (namespace, name):
//   create  desired, and no AAI of that name exists;
//   update  desired and existing, but they differ in what the AAI states: the identity (namespace, name, uid
//           and the spec fields podid reads, compared parsed so spelling, key order and fields the API server
//           prunes never count), the binding (the same), pod, podNamespace, nodename, the nodename label or the
//           compute annotation (the existing AAI's record holds a digest of these: records.h). The object to PUT
//           (updated_object) is the existing one (resourceVersion, uid, finalizers, other labels and annotations
//           kept) with podid's labels, annotation, finalizer and spec; its status is kept, except that an AAI
//           whose Azure side changed (identity type or resource id, or compute) goes back to Created
//           (reset_state): "Assigned" would claim something not yet true;
//   keep    desired and existing and equal;
//   remove  existing and not desired, whoever wrote it (the predecessor's AAIs included); and every AAI whose
//           deletionTimestamp is set, even if desired again (it is created anew once it is gone).
// Each item says its compute: the desired one; for removals the existing kComputeAnnotation, else (AAIs the
// predecessor wrote) the compute of its node in the desired state, else "" (node gone: nothing in Azure to wait
// for).
//
// Errors: none; the inputs are parsed objects.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/state/desired_state.h"
#include "controller/state/records.h"
#include "podid/crd/crd_types.h"

namespace podid::controller {

inline constexpr std::string_view kAssignedIdentityApiVersion = "aadpodidentity.k8s.io/v1";
inline constexpr std::string_view kAssignedIdentityKind = "AzureAssignedIdentity";
// status.status values (aad-pod-identity.md §2.5).
inline constexpr std::string_view kStateCreated = "Created";
inline constexpr std::string_view kStateAssigned = "Assigned";
inline constexpr std::string_view kStateUnassigned = "Unassigned";

// The complete AAI for `assignment` with status.status = `state`.
nlohmann::json build_assigned_identity(const DesiredAssignment& assignment, std::string_view state);

// `current` (the existing AAI as the API server holds it) with podid's labels, annotation, finalizer and spec for
// `assignment`; status kept, or Created when `reset_state`.
nlohmann::json updated_object(const nlohmann::json& current, const DesiredAssignment& assignment, bool reset_state);

// What the existing AAI's digest must equal for the AAI to state `assignment` (records.h).
Digest assignment_digest(const DesiredAssignment& assignment);

struct PlanItem {
  std::string ns, name;
  std::string compute_key;  // the scale set or VM this AAI stands for; "" when none is known
  // The user-assigned identity id whose presence on the compute makes this AAI Assigned, as written; "" when no
  // ARM work is involved (types 1 and 2, or an AAI without one).
  std::string identity_resource_id;
  crd::AssignedState state = crd::AssignedState::kNone;  // the status the AAI has (create: kCreated)
  const DesiredAssignment* desired = nullptr;            // create, update, keep: points into `desired`
  // update, keep and remove: the existing AAI's record, shared with the cache (not copied).
  std::shared_ptr<const AssignedRecord> existing;
  bool reset_state = false;  // update: its Azure side changed, so its status goes back to Created
  // Objects are built when written (build_assigned_identity, updated_object), never held by a plan.
};

struct AssignmentPlan {
  std::vector<PlanItem> create, update, keep, remove;  // each sorted by (ns, name)
};

using AssignedRecords = std::vector<std::shared_ptr<const AssignedRecord>>;
// The compute key of a node ("" when unknown or no Azure VM): where the predecessor's AAIs, which name no
// compute, stand.
using NodeComputeOf = std::function<std::string(std::string_view node)>;

// `desired` must outlive the plan. `existing` are the AAIs the informer holds that the plan weighs (objects
// that failed to parse are the caller's to report; they are neither kept nor removed here).
AssignmentPlan plan_assignments(const std::vector<DesiredAssignment>& desired, const AssignedRecords& existing,
                                const NodeComputeOf& node_compute);
// The whole cluster's plan (nodes' computes from desired.computes).
AssignmentPlan plan_assignments(const DesiredState& desired, const AssignedRecords& existing);

}  // namespace podid::controller
