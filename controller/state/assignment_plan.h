// SPDX-License-Identifier: Apache-2.0
//
// The AzureAssignedIdentity (AAI) objects podid-controller writes, and the plan that turns the existing ones
// into the desired ones. Pure, no I/O.
//
// Object shape (aad-pod-identity.md §3.3, what `kubectl get azureassignedidentities` users and the agent read):
// name <pod>-<podNamespace>-<identity>, label nodename=<node>, MIC's finalizer, spec {azureIdentityRef,
// azureBindingRef, pod, podNamespace, nodename}, status {status, availableReplicas: 1}, plus the annotation
// kComputeAnnotation naming the scale set or VM the assignment stands for.
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
//           compute annotation. The object to PUT is the existing one (resourceVersion, uid, finalizers, other
//           labels and annotations kept) with podid's labels, annotation, finalizer and spec; its status is
//           kept, except that an AAI whose Azure side changed (identity type or resource id, or compute) goes
//           back to Created: "Assigned" would claim something not yet true;
//   keep    desired and existing and equal;
//   remove  existing and not desired, whoever wrote it (the predecessor's AAIs included); and every AAI whose
//           deletionTimestamp is set, even if desired again (it is created anew once it is gone).
// Each item says its compute: the desired one; for removals the existing kComputeAnnotation, else (AAIs the
// predecessor wrote) the compute of its node in the desired state, else "" (node gone: nothing in Azure to wait
// for).
//
// Errors: none; the inputs are parsed objects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/state/desired_state.h"
#include "podid/crd/crd_types.h"

namespace podid::controller {

inline constexpr std::string_view kAssignedIdentityApiVersion = "aadpodidentity.k8s.io/v1";
inline constexpr std::string_view kAssignedIdentityKind = "AzureAssignedIdentity";
inline constexpr std::string_view kAssignedIdentityFinalizer = "azureassignedidentity.finalizers.aadpodidentity.k8s.io";
inline constexpr std::string_view kNodeNameLabel = "nodename";
inline constexpr std::string_view kComputeAnnotation = "podid.io/compute";
// status.status values (aad-pod-identity.md §2.5).
inline constexpr std::string_view kStateCreated = "Created";
inline constexpr std::string_view kStateAssigned = "Assigned";
inline constexpr std::string_view kStateUnassigned = "Unassigned";

// The complete AAI for `assignment` with status.status = `state`.
nlohmann::json build_assigned_identity(const DesiredAssignment& assignment, std::string_view state);

struct PlanItem {
  std::string ns, name;
  std::string compute_key;  // the scale set or VM this AAI stands for; "" when none is known
  // The user-assigned identity id whose presence on the compute makes this AAI Assigned, as written; "" when no
  // ARM work is involved (types 1 and 2, or an AAI without one).
  std::string identity_resource_id;
  crd::AssignedState state = crd::AssignedState::kNone;  // the status the AAI has (create: kCreated)
  const DesiredAssignment* desired = nullptr;            // create, update, keep: points into the DesiredState
  // update: the object to PUT; null otherwise (create: build_assigned_identity(*desired, state) when it is
  // written: a view of 10,000 new pods must not hold 10,000 objects nobody may write in that view's lifetime).
  nlohmann::json object;
  // update, keep and remove: the existing object, shared with the cache (not copied).
  std::shared_ptr<const nlohmann::json> existing;
};

struct AssignmentPlan {
  std::vector<PlanItem> create, update, keep, remove;  // each sorted by (ns, name)
};

// `desired` must outlive the plan. `existing` is what the AAI informer holds (objects that failed to parse are
// the caller's to report; they are neither kept nor removed here).
AssignmentPlan plan_assignments(const DesiredState& desired,
                                const std::vector<Cached<crd::AzureAssignedIdentity>>& existing);

}  // namespace podid::controller
