// SPDX-License-Identifier: Apache-2.0
//
// Which identity a pod gets for one token request: a pure function of the store, the pod, what the request
// named, and the policy. It runs on every token request, so it only walks index buckets and allocates
// nothing but one small candidate vector (and the detail string on failure paths).
//
// The contract (aad-pod-identity §1.5/§1.6 semantics; the deliberate differences are marked "unlike"):
//
// 1. Exceptions first. A pod with a label equal to any one key=value of any AzurePodIdentityException in
//    the pod's own namespace (key exact, value ignoring ASCII case) gets Excepted: the caller serves it the
//    node's identity through the upstream IMDS, as the predecessor did. (The predecessor's second rule, the
//    MIC ReplicaSet short-circuit, has no podid counterpart: podid's controller does not call IMDS.)
//    hostNetwork pods are not special here.
//
// 2. Candidates. The bindings whose `selector` equals the pod's `aadpodidbinding` label exactly (case-
//    sensitive, as the predecessor compared; a pod without the label, or with an empty value, has none),
//    each with the AzureIdentity it names in the binding's own namespace; bindings naming a missing
//    identity are ignored. Kept only when the binding is in the pod's namespace if
//      - policy.force_namespaced, or
//      - policy.mode == kManaged (the predecessor's managed mode listed only the pod's namespace), or
//      - the identity carries `aadpodidentity.k8s.io/Behavior: namespaced`.
//    Otherwise bindings from any namespace count, as they did in the predecessor's default mode. Several
//    bindings naming the same identity make one candidate (its binding: the first by (namespace, name)).
//
//    Federated identities (crd_types.h kFederatedAnnotation) are candidates only with policy.federated; in
//    kFederated mode only they are.
//
// 2b. Azure Workload Identity. A pod labelled `azure.workload.identity/use: "true"` whose service account is
//    annotated `azure.workload.identity/client-id` (WorkloadIdentityClaim, resolved by the caller) has that
//    federated identity as one more candidate, after every binding's, with no binding (Chosen::binding null).
//    The documented rule for a pod that has both: its bindings come first. With nothing named it gets a binding's
//    identity whenever any binding applies to it, and the service account's only when none does; a request
//    naming the service account's client id (or its object id) gets that one.
//
// 3. Servable. Federated: every candidate, in every mode (nothing is assigned to a scale set; the token comes
//    from the exchange). kManaged: every candidate (identities are pre-assigned to the VMSS; no
//    AzureAssignedIdentity exists). kStandard: a candidate is servable only when an AzureAssignedIdentity for (pod namespace, pod
//    name) references that identity (namespace and name) with status Assigned or no status (legacy objects,
//    which the predecessor served), with the same client id as the live identity (ignoring case: after an
//    identity's client id changes, the old assignment does not count until MIC re-assigns), and, when both
//    are known, on the pod's node (a pod re-created elsewhere under the same name is not assigned on its new
//    node yet). Created, Unassigned and unknown states are not servable.
//
// 4. Choice, by what the request named (IdentitySelector):
//    - nothing: no candidates -> kNoBinding, or kServiceAccountNotAnnotated when the pod asked for Azure
//      Workload Identity and its service account names no client id; none servable -> kNotAssignedYet; one servable -> it; several
//      -> kAmbiguous when policy.strict_default (Azure's answer when a VM has several identities and the
//      request names none), else the first by (identity namespace, identity name) in byte order (unlike the
//      predecessor's arbitrary informer order).
//    - client_id / msi_res_id (mi_res_id) / object_id: compared ignoring ASCII case (unlike the predecessor's
//      exact final comparison) with the candidates' client id / resource id / principal id. No candidates
//      at all -> kNoBinding. A servable match -> it (the first by identity (namespace, name) if several
//      AzureIdentity objects share the id). Matches, none servable -> kNotAssignedYet. No match ->
//      kNoMatchForSelector (Azure's "Identity not found"). For object_id, candidates whose principal id is
//      not known yet cannot be compared: they are listed in NoIdentity::unresolved_principals so the caller
//      can fetch a token for them, learn the `oid` (IdentityStore::learn_principal_id) and select again.
//
//    An empty candidate list is an answer, never a crash (the predecessor panicked).
//
// Lifetime: the pointers in the result point into the store and are valid until its next update.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "podid/crd/crd_types.h"
#include "agent/identity/identity_selector.h"
#include "agent/identity/identity_store.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own

enum class Mode { kStandard, kManaged, kFederated };

struct SelectionPolicy {
  Mode mode = Mode::kStandard;
  bool force_namespaced = false;  // only bindings in the pod's namespace, for every identity
  bool strict_default = false;    // several servable identities and none named: refuse instead of choosing
  bool federated = true;          // federated identities are served (agent --federated)
};

// What Azure Workload Identity's conventions give the pod (rule 2b), resolved by the caller from its service
// account.
struct WorkloadIdentityClaim {
  bool requested = false;                   // the pod is labelled azure.workload.identity/use: "true"
  const AzureIdentity* identity = nullptr;  // what its service account names; null: no client-id annotation
};

struct Chosen {
  const AzureIdentity* identity;
  const AzureIdentityBinding* binding;  // null for the service account's identity (rule 2b)
};

struct Excepted {};

struct NoIdentity {
  enum Reason { kNoBinding, kNotAssignedYet, kNoMatchForSelector, kAmbiguous, kServiceAccountNotAnnotated };
  Reason reason;
  std::string detail;  // one human line for logs and the error body; never a secret
  // object_id requests only: candidates whose principal id is unknown (see the contract above).
  std::vector<const AzureIdentity*> unresolved_principals;
};

using Selection = std::variant<Chosen, Excepted, NoIdentity>;

// One identity a pod is bound to (rule 2), and whether rule 3 lets it be served now. Several bindings naming
// one identity make one candidate (its binding: the first by (namespace, name)).
struct Candidate {
  const AzureIdentity* identity;
  const AzureIdentityBinding* binding;
  bool servable;
};

// Rules 2 and 3 alone, in binding (namespace, name) order: the bindings' candidates select_identity chooses
// from (before the service account's identity of rule 2b, which it may add). Empty for a pod without the label.
// For tools that explain a choice (podid explain, podid doctor); the token path calls select_identity, which
// uses exactly this.
std::vector<Candidate> bound_identities(const IdentityStore& store, const PodInfo& pod, const SelectionPolicy& policy);

Selection select_identity(const IdentityStore& store, const PodInfo& pod, const IdentitySelector& selector,
                          const SelectionPolicy& policy, const WorkloadIdentityClaim& claim = {});

// True when an AzurePodIdentityException in the pod's namespace matches it (rule 1 above).
bool is_excepted(const IdentityStore& store, const PodInfo& pod);

const char* to_string(NoIdentity::Reason reason);

}  // namespace podid::agent
