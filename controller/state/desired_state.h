// SPDX-License-Identifier: Apache-2.0
//
// Desired state, level-triggered: from what the informer caches hold (bound pods, nodes, AzureIdentities,
// AzureIdentityBindings), the AzureAssignedIdentities that should exist and, per scale set or standalone VM,
// the user-assigned identities its nodes' pods need. Pure, no I/O; the same inputs give the same output.
//
// Matching follows the predecessor's MIC (aad-pod-identity.md §2.4): a pod with the `aadpodidbinding` label and
// a spec.nodeName; every binding (any namespace) whose spec.selector equals the label value exactly; the
// binding's spec.azureIdentity looked up in the binding's namespace; in namespaced mode (flag, or the
// identity's Behavior annotation) identity, binding and pod must share a namespace. Pods that are finished
// (Succeeded/Failed) or being deleted need nothing. The compute resource comes from the node's spec.providerID
// (its own subscription and resource group, not the cloud config's).
//
// Errors: none; what cannot be used is reported in `problems` (for events, metrics and logs) and skipped.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/arm/resource_id.h"
#include "podid/crd/crd_types.h"

namespace podid::controller {

// An object as the cache holds it: parsed, plus the raw JSON (AAIs embed full copies of identity and binding).
template <class T>
struct Cached {
  T object;
  nlohmann::json raw;
};

struct ClusterSnapshot {
  std::vector<Cached<crd::PodInfo>> pods;  // pods carrying the kBindingLabel (others never matter)
  std::map<std::string, std::string, std::less<>> node_provider_ids;  // node name -> spec.providerID
  std::vector<Cached<crd::AzureIdentity>> identities;
  std::vector<Cached<crd::AzureIdentityBinding>> bindings;
  bool force_namespaced = false;
};

// One AzureAssignedIdentity that should exist.
struct DesiredAssignment {
  std::string name;       // <pod>-<podNamespace>-<identityName>, as MIC names it
  std::string ns;         // "default", or the identity's namespace in namespaced mode (as MIC)
  std::string pod, pod_namespace, pod_uid, node;
  const Cached<crd::AzureIdentity>* identity = nullptr;       // points into the snapshot
  const Cached<crd::AzureIdentityBinding>* binding = nullptr;  // points into the snapshot
  std::string compute_key;  // arm::ResourceId::key() of the node's scale set or VM; "" if the node's
                            // providerID is missing or not an Azure VM (then never Assigned)
  bool needs_arm() const;   // a user-assigned identity (type 0): Assigned only once it is on the compute
};

// What one scale set or VM should hold.
struct ComputeNeed {
  arm::ResourceId compute;
  std::vector<std::string> identity_ids;  // user-assigned resource ids, deduplicated case-insensitively, sorted by key
  std::vector<std::string> nodes;         // the cluster's nodes on it, sorted
};

struct DesiredProblem {
  std::string kind, ns, name;  // the object to put an Event on ("AzureIdentityBinding", "Node", "Pod", ...)
  std::string reason;          // short CamelCase: "IdentityNotFound", "InvalidProviderID", "NameConflict", ...
  std::string message;
};

struct DesiredState {
  std::vector<DesiredAssignment> assignments;                 // sorted by (ns, name)
  std::map<std::string, ComputeNeed, std::less<>> computes;   // by compute key; every compute of a known node
  std::vector<DesiredProblem> problems;
};

// The snapshot must outlive the result (assignments point into it).
DesiredState compute_desired_state(const ClusterSnapshot& snapshot);

}  // namespace podid::controller
