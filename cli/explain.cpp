// SPDX-License-Identifier: Apache-2.0
#include "cli/explain.h"

#include <variant>

#include "controller/arm/resource_id.h"
#include "podid/ascii.h"

namespace podid::cli {
namespace {

std::string key(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }

const char* state_name(crd::AssignedState s) {
  switch (s) {
    case crd::AssignedState::kNone:
      return "(no status: served, as the predecessor did)";
    case crd::AssignedState::kCreated:
      return "Created";
    case crd::AssignedState::kAssigned:
      return "Assigned";
    case crd::AssignedState::kUnassigned:
      return "Unassigned";
    case crd::AssignedState::kUnknown:
      return "unknown";
  }
  return "?";
}

// Bindings that would have matched the pod but for one thing.
void near_misses(const ClusterView& view, const Explanation& e, const DoctorPolicy& policy, std::vector<NearMiss>& out) {
  const bool everything_namespaced =
      policy.selection.force_namespaced || policy.selection.mode == agent::Mode::kManaged;
  for (const auto& b : view.bindings) {
    bool candidate = false;
    for (const auto& m : e.matches) candidate = candidate || m.binding == key(b.ns, b.name);
    if (candidate) continue;
    if (e.label.empty()) {
      for (const auto& [k, v] : e.pod.labels) {
        if (ascii::iequals(k, crd::kBindingLabel) && v == b.selector) {
          out.push_back({key(b.ns, b.name), "the pod carries the selector under label \"" + k + "\"; podid reads only \"" +
                                                std::string(crd::kBindingLabel) + "\""});
        }
      }
      continue;
    }
    if (b.selector != e.label) {
      if (ascii::iequals(b.selector, e.label)) {
        out.push_back({key(b.ns, b.name), "selector \"" + b.selector + "\" differs from the pod's label \"" + e.label +
                                              "\" only in case; selectors are compared exactly"});
      }
      continue;
    }
    const crd::AzureIdentity* identity = view.store->identity(b.ns, b.azure_identity);
    if (identity == nullptr) {
      out.push_back({key(b.ns, b.name), "names AzureIdentity \"" + b.azure_identity + "\", which is not in namespace " +
                                            b.ns});
    } else if (b.ns != e.pod.ns && (everything_namespaced || identity->namespaced_behavior)) {
      out.push_back({key(b.ns, b.name),
                     "in namespace " + b.ns + ", and only pods of that namespace may use it (" +
                         (identity->namespaced_behavior ? std::string("the identity is namespaced")
                                                        : policy.selection.mode == agent::Mode::kManaged
                                                              ? std::string("managed mode")
                                                              : std::string("--force-namespaced")) +
                         ")"});
    }
  }
}

}  // namespace

Explanation explain_pod(const ClusterView& view, std::string_view ns, std::string_view name, const DoctorPolicy& policy) {
  Explanation e;
  const crd::PodInfo* pod = view.pod(ns, name);
  if (pod == nullptr) return e;
  e.found = true;
  e.pod = *pod;
  if (auto it = pod->labels.find(crd::kBindingLabel); it != pod->labels.end()) e.label = it->second;

  for (const auto& c : agent::bound_identities(*view.store, *pod, policy.selection)) {
    e.matches.push_back({key(c.binding->ns, c.binding->name), key(c.identity->ns, c.identity->name), c.servable});
  }
  near_misses(view, e, policy, e.near_misses);

  // The agent's own choice for a request that names no identity (what most SDK calls send).
  const agent::Selection selection = agent::select_identity(*view.store, *pod, {}, policy.selection);
  if (std::holds_alternative<agent::Excepted>(selection)) {
    e.outcome = "excepted";
    e.rule = "rule 1: an AzurePodIdentityException in namespace " + pod->ns +
             " matches the pod's labels, so the node's own identity is served (through IMDS)";
  } else if (const auto* chosen = std::get_if<agent::Chosen>(&selection)) {
    e.outcome = "identity";
    e.identity = key(chosen->identity->ns, chosen->identity->name);
    e.binding = key(chosen->binding->ns, chosen->binding->name);
    e.client_id = chosen->identity->client_id;
    e.resource_id = chosen->identity->resource_id;
    size_t servable = 0;
    for (const auto& m : e.matches) servable += m.servable ? 1 : 0;
    e.rule = servable == 1 ? "rule 4: the only identity bound to the pod that may be served now"
                           : "rule 4: " + std::to_string(servable) +
                                 " identities may be served; a request naming none gets the first by "
                                 "(namespace, name), others must be named by client_id";
  } else {
    const auto& none = std::get<agent::NoIdentity>(selection);
    e.outcome = "none";
    e.reason = agent::to_string(none.reason);
    e.rule = none.detail;
  }

  for (const auto* a : view.store->assigned_to_pod(pod->ns, pod->name)) {
    e.assignments.push_back({key(a->ns, a->name), key(a->identity_ns, a->identity_name), state_name(a->state), a->node});
  }

  const NodeFacts* node = pod->node.empty() ? nullptr : view.node(pod->node);
  if (pod->node.empty()) {
    e.compute_note = "the pod is not scheduled on a node yet";
  } else if (node == nullptr) {
    e.compute_note = "node " + pod->node + " is not in the cluster";
  } else if (auto compute = controller::arm::parse_provider_id(node->provider_id); compute) {
    e.compute_id = compute->id();
  } else {
    e.compute_note = "node " + pod->node + " has no Azure providerID (\"" + node->provider_id + "\")";
  }
  return e;
}

void record_compute(Explanation& e, const ArmAnswer& compute) {
  if (compute.status != 200) {
    e.compute_note = "could not read " + e.compute_id + ": " +
                     (compute.status == 0 ? compute.failure
                                          : "HTTP " + std::to_string(compute.status) + " " + compute.error_code);
    return;
  }
  bool on = false;
  if (auto id = compute.body.find("identity"); id != compute.body.end() && id->is_object()) {
    if (auto ua = id->find("userAssignedIdentities"); ua != id->end() && ua->is_object()) {
      for (const auto& [resource_id, value] : ua->items()) on = on || controller::arm::same_id(resource_id, e.resource_id);
    }
  }
  e.on_compute = on;
}

int exit_status(const Explanation& e) { return e.found && e.outcome != "none" ? 0 : 1; }

}  // namespace podid::cli
