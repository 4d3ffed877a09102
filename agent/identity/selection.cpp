// SPDX-License-Identifier: Apache-2.0
#include "agent/identity/selection.h"

#include <span>
#include <string_view>
#include <tuple>

#include "podid/ascii.h"
#include "podid/crd/workload_identity.h"

namespace podid::agent {
namespace {

bool ordered_before(const AzureIdentity* a, const AzureIdentity* b) {
  return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
}

// Rule 3 of the contract, standard mode.
bool assigned_to(const PodInfo& pod, const AzureIdentity& identity,
                 std::span<const AzureAssignedIdentity* const> assignments) {
  for (const AzureAssignedIdentity* a : assignments) {
    if (a->identity_ns != identity.ns || a->identity_name != identity.name) continue;
    if (a->state != AssignedState::kAssigned && a->state != AssignedState::kNone) continue;
    if (!ascii::iequals(a->identity_client_id, identity.client_id)) continue;
    if (!a->node.empty() && !pod.node.empty() && !ascii::iequals(a->node, pod.node)) continue;
    return true;
  }
  return false;
}

bool matches(const AzureIdentity& identity, const IdentitySelector& selector) {
  switch (selector.kind) {
    case SelectorKind::kNone:
      return true;
    case SelectorKind::kClientId:
      return ascii::iequals(identity.client_id, selector.value);
    case SelectorKind::kResourceId:
      return !identity.resource_id.empty() && ascii::iequals(identity.resource_id, selector.value);
    case SelectorKind::kObjectId:
      return !identity.principal_id.empty() && ascii::iequals(identity.principal_id, selector.value);
  }
  return false;
}

const char* selector_name(SelectorKind kind) {
  switch (kind) {
    case SelectorKind::kNone:
      return "nothing";
    case SelectorKind::kClientId:
      return "client_id";
    case SelectorKind::kResourceId:
      return "msi_res_id";
    case SelectorKind::kObjectId:
      return "object_id";
  }
  return "?";
}

std::string pod_key(const PodInfo& pod) { return pod.ns + "/" + pod.name; }

NoIdentity no_identity(NoIdentity::Reason reason, std::string detail) { return {reason, std::move(detail), {}}; }

}  // namespace

const char* to_string(NoIdentity::Reason reason) {
  switch (reason) {
    case NoIdentity::kNoBinding:
      return "no_binding";
    case NoIdentity::kNotAssignedYet:
      return "not_assigned_yet";
    case NoIdentity::kNoMatchForSelector:
      return "no_match_for_selector";
    case NoIdentity::kAmbiguous:
      return "ambiguous";
    case NoIdentity::kServiceAccountNotAnnotated:
      return "service_account_not_annotated";
  }
  return "?";
}

bool is_excepted(const IdentityStore& store, const PodInfo& pod) {
  for (const AzurePodIdentityException* e : store.exceptions_in(pod.ns)) {
    for (const auto& [key, value] : e->pod_labels) {
      auto it = pod.labels.find(key);
      if (it != pod.labels.end() && ascii::iequals(it->second, value)) return true;
    }
  }
  return false;
}

namespace {

// Rule 2: the bindings' candidates, one per identity, in binding (namespace, name) order. `skipped` counts the
// identities left out because the policy does not serve their kind (federated or not).
std::vector<Candidate> binding_candidates(const IdentityStore& store, const PodInfo& pod, const SelectionPolicy& policy,
                                          size_t& skipped) {
  std::vector<Candidate> candidates;
  auto label = pod.labels.find(kBindingLabel);
  if (label == pod.labels.end() || label->second.empty()) return candidates;
  const bool pod_namespace_only = policy.force_namespaced || policy.mode == Mode::kManaged;
  const auto bindings = store.bindings_with_selector(label->second);
  const auto assignments = store.assigned_to_pod(pod.ns, pod.name);
  candidates.reserve(bindings.size());
  for (const AzureIdentityBinding* b : bindings) {
    if (pod_namespace_only && b->ns != pod.ns) continue;
    const AzureIdentity* identity = store.identity(b->ns, b->azure_identity);
    if (identity == nullptr) continue;
    if (identity->namespaced_behavior && identity->ns != pod.ns) continue;
    if (identity->federated ? !policy.federated : policy.mode == Mode::kFederated) {
      ++skipped;
      continue;
    }
    bool seen = false;
    for (const Candidate& c : candidates) seen = seen || c.identity == identity;
    if (seen) continue;
    // Rule 3: a federated identity needs no assignment.
    bool servable = identity->federated || policy.mode == Mode::kManaged || assigned_to(pod, *identity, assignments);
    candidates.push_back({identity, b, servable});
  }
  return candidates;
}

std::string why_no_candidate(const PodInfo& pod, const SelectionPolicy& policy, size_t skipped) {
  auto label = pod.labels.find(kBindingLabel);
  if (label == pod.labels.end() || label->second.empty()) {
    return "pod " + pod_key(pod) + " has no " + std::string(kBindingLabel) + " label";
  }
  std::string detail = "no AzureIdentityBinding with selector \"" + label->second + "\" gives pod " + pod_key(pod) +
                       " an existing identity";
  if (skipped > 0) {
    detail += policy.mode == Mode::kFederated
                  ? " (" + std::to_string(skipped) + " not federated, and this agent serves federated identities only)"
                  : " (" + std::to_string(skipped) + " federated, and this agent runs with --federated false)";
  }
  return detail;
}

}  // namespace

std::vector<Candidate> bound_identities(const IdentityStore& store, const PodInfo& pod, const SelectionPolicy& policy) {
  size_t skipped = 0;
  return binding_candidates(store, pod, policy, skipped);
}

Selection select_identity(const IdentityStore& store, const PodInfo& pod, const IdentitySelector& selector,
                          const SelectionPolicy& policy, const WorkloadIdentityClaim& claim) {
  if (is_excepted(store, pod)) return Excepted{};

  size_t skipped = 0;
  std::vector<Candidate> candidates = binding_candidates(store, pod, policy, skipped);
  const size_t from_bindings = candidates.size();
  // Rule 2b: the service account's identity, after the bindings'; with nothing named, only when no binding applies.
  const bool claim_usable = claim.requested && claim.identity != nullptr && policy.federated;
  if (claim_usable && (selector.kind != SelectorKind::kNone || from_bindings == 0)) {
    candidates.push_back({claim.identity, nullptr, true});
  }
  if (candidates.empty()) {
    if (claim.requested && claim.identity == nullptr && policy.federated) {
      return no_identity(NoIdentity::kServiceAccountNotAnnotated,
                         "pod " + pod_key(pod) + " is labelled " + std::string(kWorkloadIdentityUseLabel) +
                             "=true but its service account " + pod.ns + "/" + pod.service_account + " has no " +
                             std::string(kWorkloadIdentityClientIdAnnotation) + " annotation");
    }
    return no_identity(NoIdentity::kNoBinding, why_no_candidate(pod, policy, skipped));
  }

  // Rule 4: among the candidates the request names, the first servable one: bindings' by identity (namespace,
  // name), then the service account's.
  const Candidate* best = nullptr;
  size_t matched = 0, servable = 0;
  NoIdentity unresolved{NoIdentity::kNoMatchForSelector, {}, {}};
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (selector.kind == SelectorKind::kObjectId && c.identity->principal_id.empty()) {
      unresolved.unresolved_principals.push_back(c.identity);
      continue;
    }
    if (!matches(*c.identity, selector)) continue;
    ++matched;
    if (!c.servable) continue;
    ++servable;
    bool earlier = best == nullptr || (i < from_bindings && ordered_before(c.identity, best->identity));
    if (earlier) best = &c;
  }

  if (best != nullptr) {
    if (selector.kind == SelectorKind::kNone && servable > 1 && policy.strict_default) {
      return no_identity(NoIdentity::kAmbiguous, "pod " + pod_key(pod) + " has " + std::to_string(servable) +
                                                     " identities and the request named none");
    }
    return Chosen{best->identity, best->binding};
  }
  if (matched > 0) {
    return no_identity(NoIdentity::kNotAssignedYet, "the identity for pod " + pod_key(pod) +
                                                        " is not assigned to it yet (" + std::to_string(matched) +
                                                        " bound, none in state Assigned with its current client id)");
  }
  unresolved.detail =
      "no identity bound to pod " + pod_key(pod) + " matches the requested " + selector_name(selector.kind);
  if (!unresolved.unresolved_principals.empty()) {
    unresolved.detail +=
        " (" + std::to_string(unresolved.unresolved_principals.size()) + " with a principal id not known yet)";
  }
  return unresolved;
}

}  // namespace podid::agent
