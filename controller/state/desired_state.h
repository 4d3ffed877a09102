// SPDX-License-Identifier: Apache-2.0
//
// Desired state, level-triggered: from what the informer caches hold (bound pods, nodes, AzureIdentities,
// AzureIdentityBindings), the AzureAssignedIdentities that should exist and, per scale set or standalone VM,
// the user-assigned identities its nodes' pods need. Pure, no I/O; the same inputs give the same output,
// whatever order the caches list objects in.
//
// Matching follows the predecessor's MIC (aad-pod-identity.md §2.4): a pod with the `aadpodidbinding` label and
// a spec.nodeName; every binding (any namespace) whose spec.selector equals the label value exactly (case
// included); the binding's spec.azureIdentity looked up in the binding's namespace; in namespaced mode (flag,
// or the identity's Behavior annotation) identity, binding and pod must share a namespace. Pods that are
// finished (Succeeded/Failed) need nothing; a pod being deleted keeps its identity through its grace period
// (its shutdown code may still call Azure), as with MIC. Pods are taken in
// (namespace, name) order and each pod's bindings in (namespace, name) order, as MIC sorted them; that order
// decides which assignment wins a name conflict. The compute resource comes from the node's spec.providerID
// (its own subscription and resource group, not the cloud config's).
//
// What cannot be used is skipped and reported once in `problems`:
//   IdentityNotFound   (binding)   spec.azureIdentity names no AzureIdentity in the binding's namespace;
//   InvalidResourceID  (identity)  a type-0 identity whose spec.resourceID is empty or not a user-assigned
//                                  identity id: no assignment at all (MIC dropped them);
//   InvalidProviderID  (node)      the node is unknown or its providerID is no Azure VM / VMSS instance: the
//                                  assignment is kept with compute_key "" (it can never become Assigned);
//   NameConflict       (identity)  two assignments with one (namespace, name), e.g. identities with one name in
//                                  two namespaces (MIC #1065): the first is kept. One pod bound to one identity
//                                  through two bindings is not a conflict: the first binding is used, silently;
//   InvalidName        (identity)  <pod>-<podNamespace>-<identity> is longer than an object name may be (253).
//
// Errors: none; see `problems`.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/arm/resource_id.h"
#include "controller/state/records.h"
#include "podid/crd/crd_types.h"

namespace podid::controller {

inline constexpr std::string_view kReasonIdentityNotFound = "IdentityNotFound";
inline constexpr std::string_view kReasonInvalidResourceId = "InvalidResourceID";
inline constexpr std::string_view kReasonInvalidProviderId = "InvalidProviderID";
inline constexpr std::string_view kReasonNameConflict = "NameConflict";
inline constexpr std::string_view kReasonInvalidName = "InvalidName";

// Where AzureAssignedIdentities live outside namespaced mode (MIC's choice, kept for `kubectl get` users).
inline constexpr std::string_view kDefaultAssignmentNamespace = "default";

// Everything the caches hold, for the full computation (the incremental one is desired_index.h).
struct ClusterSnapshot {
  std::vector<PodRecord> pods;  // pods carrying the kBindingLabel (others never matter)
  // Every node: name -> spec.providerID ("" while the cloud provider has not set it).
  std::map<std::string, std::string, std::less<>> node_provider_ids;
  std::vector<std::shared_ptr<const IdentityRecord>> identities;
  std::vector<std::shared_ptr<const BindingRecord>> bindings;
  bool force_namespaced = false;
};

// Whether an identity must be on the pod's scale set or VM: a user-assigned identity (type 0) whose token
// the agent asks IMDS for. A federated one (podid.io/federated) is exchanged at Entra ID for the pod's own
// service-account token, so it is never put on a compute (and needs no Managed Identity Operator there);
// app registrations (type 1, 2) never are either.
bool identity_needs_compute(const crd::AzureIdentity& identity);

// One AzureAssignedIdentity that should exist.
struct DesiredAssignment {
  std::string name;  // <pod>-<podNamespace>-<identityName>, as MIC names it
  std::string ns;    // "default", or the identity's namespace in namespaced mode (as MIC)
  std::string pod, pod_namespace, pod_uid, node;
  std::shared_ptr<const IdentityRecord> identity;  // shared with the caches: a copy costs two pointers
  std::shared_ptr<const BindingRecord> binding;
  std::string compute_key;  // arm::ResourceId::key() of the node's scale set or VM; "" if the node's
                            // providerID is missing or not an Azure VM (then never Assigned)
  bool needs_arm() const;   // identity_needs_compute: Assigned only once it is on the compute
  bool operator==(const DesiredAssignment&) const = default;
};

// What one scale set or VM should hold.
struct ComputeNeed {
  arm::ResourceId compute;
  std::vector<std::string> identity_ids;  // user-assigned resource ids, deduplicated case-insensitively (first
                                          // spelling in assignment order kept), sorted by canonical key
  std::vector<std::string> nodes;         // the cluster's nodes on it, sorted
  bool operator==(const ComputeNeed&) const = default;
};

struct DesiredProblem {
  std::string kind, ns, name;  // the object to put an Event on ("AzureIdentityBinding", "AzureIdentity", "Node")
  std::string reason;          // one of the kReason* above
  std::string message;
  // kind/ns/name/reason: one object's one problem, reported once however many pods cause it.
  std::string id() const { return kind + "/" + ns + "/" + name + "/" + reason; }
  bool operator==(const DesiredProblem&) const = default;
};

struct DesiredState {
  std::vector<DesiredAssignment> assignments;  // sorted by (ns, name), unique
  // By compute key: every compute that has a node in the snapshot, even when it needs no identity (that is how
  // the controller learns to remove what it added). A compute with no node left has no entry: the caller
  // reconciles the computes its ledger names but this map lacks with an empty identity set.
  std::map<std::string, ComputeNeed, std::less<>> computes;
  std::vector<DesiredProblem> problems;
};

DesiredState compute_desired_state(const ClusterSnapshot& snapshot);

// The rules both computations share.
// <pod>-<podNamespace>-<identity>; nullopt when longer than an object name may be (253).
std::optional<std::string> assignment_name(const PodRecord& pod, const crd::AzureIdentity& identity);
// Where a node's pods get their identities: the compute (key "" when unusable, with why).
struct NodeCompute {
  std::string key;
  std::optional<arm::ResourceId> compute;
  std::string why;  // set when key is ""
};
NodeCompute node_compute(std::string_view node, std::string_view provider_id);
// The problems' messages.
DesiredProblem invalid_name_problem(const PodRecord& pod, const crd::AzureIdentity& identity, const std::string& name);
DesiredProblem name_conflict_problem(const PodRecord& pod, const crd::AzureIdentity& identity, const std::string& ns,
                                     const std::string& name, const PodRecord& first_pod,
                                     const crd::AzureIdentity& first_identity);
DesiredProblem invalid_provider_id_problem(std::string_view node, std::string_view why);
DesiredProblem identity_not_found_problem(const crd::AzureIdentityBinding& binding);
// A type-0 identity without a usable resource id: nullopt when it is usable.
std::optional<DesiredProblem> invalid_resource_id_problem(const crd::AzureIdentity& identity);

}  // namespace podid::controller
