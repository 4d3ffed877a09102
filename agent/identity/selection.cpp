// SPDX-License-Identifier: Apache-2.0
#include "agent/identity/selection.h"

#include <span>
#include <string_view>
#include <tuple>

#include "podid/ascii.h"

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
  }
  return "?";
}

std::vector<Candidate> bound_identities(const IdentityStore& store, const PodInfo& pod, const SelectionPolicy& policy) {
  std::vector<Candidate> candidates;
  auto label = pod.labels.find(kBindingLabel);
  if (label == pod.labels.end() || label->second.empty()) return candidates;
  // Rule 2: candidates, one per identity, in binding (namespace, name) order.
  const bool pod_namespace_only = policy.force_namespaced || policy.mode == Mode::kManaged;
  const auto bindings = store.bindings_with_selector(label->second);
  const auto assignments = store.assigned_to_pod(pod.ns, pod.name);
  candidates.reserve(bindings.size());
  for (const AzureIdentityBinding* b : bindings) {
    if (pod_namespace_only && b->ns != pod.ns) continue;
    const AzureIdentity* identity = store.identity(b->ns, b->azure_identity);
    if (identity == nullptr) continue;
    if (identity->namespaced_behavior && identity->ns != pod.ns) continue;
    bool seen = false;
    for (const Candidate& c : candidates) seen = seen || c.identity == identity;
    if (seen) continue;
    bool servable = policy.mode == Mode::kManaged || assigned_to(pod, *identity, assignments);
    candidates.push_back({identity, b, servable});
  }
  return candidates;
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

Selection select_identity(const IdentityStore& store, const PodInfo& pod, const IdentitySelector& selector,
                          const SelectionPolicy& policy) {
  if (is_excepted(store, pod)) return Excepted{};

  auto label = pod.labels.find(kBindingLabel);
  if (label == pod.labels.end() || label->second.empty()) {
    return no_identity(NoIdentity::kNoBinding,
                       "pod " + pod_key(pod) + " has no " + std::string(kBindingLabel) + " label");
  }

  const std::vector<Candidate> candidates = bound_identities(store, pod, policy);
  if (candidates.empty()) {
    return no_identity(NoIdentity::kNoBinding, "no AzureIdentityBinding with selector \"" + label->second +
                                                   "\" gives pod " + pod_key(pod) + " an existing identity");
  }

  // Rule 4: among the candidates the request names, the first servable one by identity (namespace, name).
  const Candidate* best = nullptr;
  size_t matched = 0, servable = 0;
  NoIdentity unresolved{NoIdentity::kNoMatchForSelector, {}, {}};
  for (const Candidate& c : candidates) {
    if (selector.kind == SelectorKind::kObjectId && c.identity->principal_id.empty()) {
      unresolved.unresolved_principals.push_back(c.identity);
      continue;
    }
    if (!matches(*c.identity, selector)) continue;
    ++matched;
    if (!c.servable) continue;
    ++servable;
    if (best == nullptr || ordered_before(c.identity, best->identity)) best = &c;
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
