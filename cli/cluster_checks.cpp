// SPDX-License-Identifier: Apache-2.0
#include "cli/cluster_checks.h"

#include <map>
#include <set>
#include <tuple>

#include "cli/kubectl_commands.h"
#include "cli/node_checks.h"
#include "podid/ascii.h"

namespace podid::cli {
namespace {

using crd::AzureIdentity;
using crd::AzureIdentityBinding;
using crd::PodInfo;

std::string key(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }
std::string binding_object(const AzureIdentityBinding& b) { return "AzureIdentityBinding " + key(b.ns, b.name); }

const AzureIdentity* find_identity(const ClusterView& view, std::string_view ns, std::string_view name) {
  for (const auto& i : view.identities) {
    if (i.ns == ns && i.name == name) return &i;
  }
  return nullptr;
}

// The pod's aadpodidbinding value, or nullptr.
const std::string* binding_label(const PodInfo& pod) {
  auto it = pod.labels.find(crd::kBindingLabel);
  return it == pod.labels.end() || it->second.empty() ? nullptr : &it->second;
}

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// A short list of names, "a, b, c and 4 more".
std::string sample(const std::vector<std::string>& names, size_t shown = 3) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

void invalid_objects(const ClusterView& view, std::vector<Finding>& out) {
  for (const auto& o : view.invalid) {
    auto slash = o.key.find('/');
    out.push_back({Severity::kError, "InvalidObject", o.kind + " " + o.key,
                   "podid skips this object: " + o.error,
                   kubectl_edit(o.kind, o.key.substr(0, slash), o.key.substr(slash + 1))});
  }
}

void binding_identities(const ClusterView& view, std::vector<Finding>& out) {
  for (const auto& b : view.bindings) {
    if (find_identity(view, b.ns, b.azure_identity) != nullptr) continue;
    const AzureIdentity* same_but_case = nullptr;
    std::vector<const AzureIdentity*> elsewhere;
    for (const auto& i : view.identities) {
      if (i.ns == b.ns && ascii::iequals(i.name, b.azure_identity)) same_but_case = &i;
      if (i.ns != b.ns && i.name == b.azure_identity) elsewhere.push_back(&i);
    }
    if (same_but_case != nullptr) {
      out.push_back({Severity::kError, "BindingIdentityMissing", binding_object(b),
                     "spec.azureIdentity is \"" + b.azure_identity + "\" but the AzureIdentity in namespace " + b.ns +
                         " is \"" + same_but_case->name + "\" (names are case-sensitive): pods with " +
                         std::string(crd::kBindingLabel) + "=" + b.selector + " get no identity from it",
                     kubectl_merge_patch("azureidentitybinding", b.ns, b.name,
                                         {{"spec", {{"azureIdentity", same_but_case->name}}}})});
    } else if (!elsewhere.empty()) {
      const AzureIdentity& i = *elsewhere.front();
      out.push_back({Severity::kError, "BindingIdentityInOtherNamespace", binding_object(b),
                     "AzureIdentity \"" + b.azure_identity + "\" is in namespace " + i.ns + ", not " + b.ns +
                         ": a binding only sees identities in its own namespace, so pods with " +
                         std::string(crd::kBindingLabel) + "=" + b.selector + " get no identity from it",
                     binding_manifest(i.ns, b.name, i.name, b.selector) + "\n" +
                         "kubectl delete azureidentitybinding " + b.name + " -n " + b.ns});
    } else {
      out.push_back({Severity::kError, "BindingIdentityMissing", binding_object(b),
                     "spec.azureIdentity names AzureIdentity \"" + b.azure_identity +
                         "\", which exists in no namespace: pods with " + std::string(crd::kBindingLabel) + "=" +
                         b.selector + " get no identity from it",
                     identity_manifest(b.ns, b.azure_identity, "<identity resource id>", "<identity client id>")});
    }
  }
}

void binding_selectors(const ClusterView& view, std::vector<Finding>& out) {
  for (const auto& b : view.bindings) {
    size_t exact = 0;
    std::vector<const PodInfo*> case_miss, key_miss;
    for (const auto& pod : view.pods) {
      if (!is_live(pod)) continue;
      const std::string* value = binding_label(pod);
      if (value != nullptr && *value == b.selector) {
        ++exact;
      } else if (value != nullptr && ascii::iequals(*value, b.selector)) {
        case_miss.push_back(&pod);
      } else if (value == nullptr) {
        for (const auto& [k, v] : pod.labels) {
          if (ascii::iequals(k, crd::kBindingLabel) && ascii::iequals(v, b.selector)) key_miss.push_back(&pod);
        }
      }
    }
    if (exact > 0) continue;
    if (!case_miss.empty()) {
      const PodInfo& p = *case_miss.front();
      const std::string& value = *binding_label(p);
      out.push_back({Severity::kError, "SelectorCaseMismatch", binding_object(b),
                     "no pod carries " + std::string(crd::kBindingLabel) + "=" + b.selector + "; " +
                         plural(case_miss.size(), "pod", "pods") + " (" + key(p.ns, p.name) + ") carry \"" + value +
                         "\", which differs only in case, and selectors are compared exactly",
                     kubectl_merge_patch("azureidentitybinding", b.ns, b.name, {{"spec", {{"selector", value}}}})});
    } else if (!key_miss.empty()) {
      const PodInfo& p = *key_miss.front();
      out.push_back({Severity::kError, "LabelKeyMismatch", binding_object(b),
                     plural(key_miss.size(), "pod", "pods") + " (" + key(p.ns, p.name) +
                         ") carry the selector under a label key spelled in another case; podid reads only \"" +
                         std::string(crd::kBindingLabel) + "\" (fix the workload's pod template too)",
                     "kubectl label pod " + p.name + " -n " + p.ns + " " + std::string(crd::kBindingLabel) + "=" +
                         b.selector});
    } else {
      out.push_back({Severity::kInfo, "SelectorMatchesNoPod", binding_object(b),
                     "no running or pending pod carries " + std::string(crd::kBindingLabel) + "=" + b.selector, ""});
    }
  }
}

void namespaced_conflicts(const ClusterView& view, const DoctorPolicy& policy, std::vector<Finding>& out) {
  const bool everything_namespaced =
      policy.selection.force_namespaced || policy.selection.mode == agent::Mode::kManaged;
  for (const auto& b : view.bindings) {
    const AzureIdentity* identity = find_identity(view, b.ns, b.azure_identity);
    if (identity == nullptr || !(everything_namespaced || identity->namespaced_behavior)) continue;
    std::map<std::string, std::vector<std::string>> by_namespace;  // pod namespace -> pod names
    for (const auto& pod : view.pods) {
      const std::string* value = binding_label(pod);
      if (is_live(pod) && value != nullptr && *value == b.selector && pod.ns != b.ns) {
        by_namespace[pod.ns].push_back(pod.name);
      }
    }
    const std::string why = identity->namespaced_behavior
                                ? "the identity carries " + std::string(crd::kBehaviorAnnotation) + ": namespaced"
                                : (policy.selection.mode == agent::Mode::kManaged ? "managed mode"
                                                                                  : "--force-namespaced");
    for (const auto& [ns, names] : by_namespace) {
      std::string fix = identity->type == crd::IdentityType::kUserAssigned
                            ? identity_manifest(ns, identity->name, identity->resource_id, identity->client_id) +
                                  "\n" + binding_manifest(ns, b.name, identity->name, b.selector)
                            : "kubectl get azureidentity " + identity->name + " -n " + b.ns +
                                  " -o yaml  # copy it, and this binding, into namespace " + ns;
      out.push_back({Severity::kWarning, "NamespacedBindingSkipsPod", binding_object(b),
                     plural(names.size(), "pod", "pods") + " in namespace " + ns + " (" + sample(names) +
                         ") carry " + std::string(crd::kBindingLabel) + "=" + b.selector +
                         ", but only pods in namespace " + b.ns + " may use this binding (" + why + ")",
                     fix});
    }
  }
}

void competing_bindings(const ClusterView& view, const DoctorPolicy& policy, std::vector<Finding>& out) {
  // One finding per (namespace, label value): every pod of a workload has the same candidates.
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& pod : view.pods) {
    const std::string* value = binding_label(pod);
    if (!is_live(pod) || value == nullptr || !seen.insert({pod.ns, *value}).second) continue;
    auto candidates = agent::bound_identities(*view.store, pod, policy.selection);
    if (candidates.size() < 2) continue;
    std::vector<std::string> names;
    for (const auto& c : candidates) {
      names.push_back("AzureIdentity " + key(c.identity->ns, c.identity->name) + " (binding " +
                      key(c.binding->ns, c.binding->name) + ")");
    }
    const auto* first = candidates.front().identity;
    for (const auto& c : candidates) {
      if (std::tie(c.identity->ns, c.identity->name) < std::tie(first->ns, first->name)) first = c.identity;
    }
    out.push_back({Severity::kWarning, "CompetingBindings",
                   "Pods " + pod.ns + " with " + std::string(crd::kBindingLabel) + "=" + *value,
                   std::to_string(candidates.size()) + " identities are bound to these pods: " + sample(names, 5) +
                       ". A token request that names no client_id gets " + key(first->ns, first->name) +
                       " (the first by namespace/name); name the identity in each request, or give the bindings "
                       "distinct selectors",
                   ""});
  }
}

void assignments(const ClusterView& view, const DoctorPolicy& policy, std::vector<Finding>& out) {
  if (policy.selection.mode == agent::Mode::kManaged) return;  // no AzureAssignedIdentity in managed mode
  for (const auto& a : view.assigned) {
    if (a.state == crd::AssignedState::kAssigned || a.state == crd::AssignedState::kNone) continue;
    const char* state = a.state == crd::AssignedState::kCreated      ? "Created"
                        : a.state == crd::AssignedState::kUnassigned ? "Unassigned"
                                                                     : "in an unknown state";
    std::string identity_key = key(a.identity_ns, a.identity_name);
    std::string why;
    if (auto it = view.false_conditions.find("AzureIdentity " + identity_key); it != view.false_conditions.end()) {
      why = it->second;
    } else if (auto bit = view.false_conditions.find("AzureIdentityBinding " + key(a.identity_ns, a.binding_name));
               bit != view.false_conditions.end()) {
      why = bit->second;
    }
    std::string fix = commands_in(why);
    if (fix.empty()) fix = "kubectl describe azureidentity " + a.identity_name + " -n " + a.identity_ns;
    out.push_back({why.empty() ? Severity::kWarning : Severity::kError, "AssignmentNotAssigned",
                   "AzureAssignedIdentity " + key(a.ns, a.name),
                   "identity " + identity_key + " for pod " + key(a.pod_namespace, a.pod) + " is " + state +
                       ", so the pod gets no token for it yet" +
                       (why.empty() ? std::string(" (the controller has not said why: is it running?)")
                                    : "; the controller says: " + why),
                   fix});
  }
  for (const auto& pod : view.pods) {
    if (!is_live(pod) || pod.node.empty() || binding_label(pod) == nullptr) continue;
    for (const auto& c : agent::bound_identities(*view.store, pod, policy.selection)) {
      bool any = false;
      for (const auto* a : view.store->assigned_to_pod(pod.ns, pod.name)) {
        any = any || (a->identity_ns == c.identity->ns && a->identity_name == c.identity->name);
      }
      if (any) continue;
      out.push_back({Severity::kWarning, "AssignmentMissing", "Pod " + key(pod.ns, pod.name),
                     "bound to AzureIdentity " + key(c.identity->ns, c.identity->name) + " (binding " +
                         key(c.binding->ns, c.binding->name) +
                         ") but no AzureAssignedIdentity exists: podid-controller has not assigned it",
                     "kubectl -n " + policy.podid_namespace + " get deployment podid-controller"});
    }
  }
}

void agents(const ClusterView& view, const DoctorPolicy& policy, std::vector<Finding>& out) {
  if (view.nodes.empty()) return;
  const std::string ds = "kubectl -n " + policy.podid_namespace + " describe daemonset podid-agent";
  if (view.agents.empty()) {
    out.push_back({Severity::kError, "AgentNotInstalled", "Namespace " + policy.podid_namespace,
                   "no podid-agent pod runs in namespace " + policy.podid_namespace + " (on any of " +
                       plural(view.nodes.size(), "node", "nodes") +
                       "): pods' IMDS calls are refused wherever podid's programs are pinned, and not answered by "
                       "podid anywhere else (installed elsewhere? pass --namespace)",
                   ds});
    return;
  }
  for (const auto& node : view.nodes) {
    const AgentFacts* agent = nullptr;
    for (const auto& a : view.agents) {
      if (a.node == node.name && (agent == nullptr || a.ready)) agent = &a;
    }
    if (agent == nullptr) {
      out.push_back({Severity::kError, "NodeWithoutAgent", "Node " + node.name,
                     "no podid-agent pod on this node (a taint the DaemonSet does not tolerate, a nodeSelector, or "
                     "a pod that failed to schedule): pods here get no identity",
                     ds});
    } else if (!agent->ready) {
      out.push_back({Severity::kError, "AgentNotReady", "Node " + node.name,
                     "podid-agent pod " + agent->pod +
                         " is not Ready (its /readyz: programs attached, listener up, caches synced): pods here "
                         "get refused connections instead of tokens",
                     "kubectl -n " + policy.podid_namespace + " logs " + agent->pod});
    }
  }
}

// What the controller itself would report (controller/state), found before it runs. IdentityNotFound is left
// out: binding_identities says more about the same mistake.
void controller_problems(const ClusterView& view, const DoctorPolicy& policy, std::vector<Finding>& out) {
  const controller::ClusterSnapshot snapshot = desired_state_snapshot(view, policy);
  for (const auto& p : controller::compute_desired_state(snapshot).problems) {
    if (p.reason == controller::kReasonIdentityNotFound) continue;
    const bool conflict = p.reason == controller::kReasonNameConflict;
    out.push_back({conflict ? Severity::kWarning : Severity::kError, p.reason,
                   p.kind + " " + (p.ns.empty() ? p.name : key(p.ns, p.name)), p.message,
                   p.kind == "Node" ? "kubectl get node " + p.name + " -o jsonpath='{.spec.providerID}'"
                                    : kubectl_edit(p.kind, p.ns, p.name)});
  }
}

}  // namespace

controller::ClusterSnapshot desired_state_snapshot(const ClusterView& view, const DoctorPolicy& policy) {
  controller::ClusterSnapshot snapshot;
  snapshot.force_namespaced = policy.selection.force_namespaced;
  // The controller's compact records, made from the view's parsed objects (the raw JSON is not needed: the
  // desired state reads the parsed fields only).
  for (const auto& pod : view.pods) {
    const std::string* label = binding_label(pod);
    if (label == nullptr) continue;
    snapshot.pods.push_back({.ns = pod.ns, .name = pod.name, .uid = pod.uid, .node = pod.node, .selector = *label,
                             .labelled = true, .finished = !is_live(pod)});
  }
  for (const auto& node : view.nodes) snapshot.node_provider_ids[node.name] = node.provider_id;
  for (const auto& i : view.identities) {
    snapshot.identities.push_back(std::make_shared<const controller::IdentityRecord>(controller::IdentityRecord{i, {}}));
  }
  for (const auto& b : view.bindings) {
    snapshot.bindings.push_back(std::make_shared<const controller::BindingRecord>(controller::BindingRecord{b, {}}));
  }
  return snapshot;
}

std::vector<Finding> cluster_findings(const ClusterView& view, const DoctorPolicy& policy) {
  std::vector<Finding> out;
  invalid_objects(view, out);
  binding_identities(view, out);
  binding_selectors(view, out);
  namespaced_conflicts(view, policy, out);
  competing_bindings(view, policy, out);
  assignments(view, policy, out);
  agents(view, policy, out);
  node_findings(view, out);
  controller_problems(view, policy, out);
  return out;
}

}  // namespace podid::cli
