// SPDX-License-Identifier: Apache-2.0
#include "cli/cluster_view.h"

namespace podid::cli {
namespace {

using nlohmann::json;

const json& member(const json& object, std::string_view key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string string_at(const json& object, std::string_view a, std::string_view b) {
  const json& v = member(member(object, a), b);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string string_at(const json& object, std::string_view a, std::string_view b, std::string_view c) {
  const json& v = member(member(member(object, a), b), c);
  return v.is_string() ? v.get<std::string>() : "";
}

// status.conditions[type=Ready].status == "True"
bool condition_ready(const json& object) {
  const json& conditions = member(member(object, "status"), "conditions");
  if (!conditions.is_array()) return false;
  for (const json& c : conditions) {
    if (member(c, "type") == "Ready") return member(c, "status") == "True";
  }
  return false;
}

// "Reason: message" of every condition with status False, joined by "; ".
std::string false_conditions_of(const json& object) {
  const json& conditions = member(member(object, "status"), "conditions");
  std::string out;
  if (!conditions.is_array()) return out;
  for (const json& c : conditions) {
    if (member(c, "status") != "False") continue;
    const json& reason = member(c, "reason");
    const json& message = member(c, "message");
    if (!out.empty()) out += "; ";
    out += reason.is_string() ? reason.get<std::string>() : std::string("NotReady");
    if (message.is_string()) out += ": " + message.get<std::string>();
  }
  return out;
}

template <class T, class Parse>
void parse_all(const std::vector<json>& items, const char* kind, Parse parse, std::vector<T>& out,
               ClusterView& view) {
  for (const json& item : items) {
    auto parsed = parse(item);
    if (!parsed) {
      view.invalid.push_back({kind, crd::object_key(item), parsed.error().message()});
      continue;
    }
    out.push_back(std::move(parsed.value()));
    if (std::string conditions = false_conditions_of(item); !conditions.empty()) {
      std::string key = kind;
      key.append(" ").append(crd::object_key(item));
      view.false_conditions[std::move(key)] = conditions;
    }
  }
}

bool is_agent_pod(const json& pod, std::string_view podid_namespace) {
  const json& labels = member(member(pod, "metadata"), "labels");
  return string_at(pod, "metadata", "namespace") == podid_namespace &&
         member(labels, kAgentNameLabel) == kAgentNameValue &&
         member(labels, kAgentComponentLabel) == kAgentComponentValue;
}

}  // namespace

const crd::PodInfo* ClusterView::pod(std::string_view ns, std::string_view name) const {
  for (const auto& p : pods) {
    if (p.ns == ns && p.name == name) return &p;
  }
  return nullptr;
}

const NodeFacts* ClusterView::node(std::string_view name) const {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

bool is_live(const crd::PodInfo& pod) { return pod.phase != "Succeeded" && pod.phase != "Failed"; }

ClusterView build_view(const ListedObjects& listed, std::string_view podid_namespace) {
  ClusterView view;
  parse_all(listed.identities, "AzureIdentity", crd::parse_azure_identity, view.identities, view);
  parse_all(listed.bindings, "AzureIdentityBinding", crd::parse_azure_identity_binding, view.bindings, view);
  parse_all(listed.assigned, "AzureAssignedIdentity", crd::parse_azure_assigned_identity, view.assigned, view);
  std::vector<crd::AzurePodIdentityException> exceptions;
  parse_all(listed.exceptions, "AzurePodIdentityException", crd::parse_azure_pod_identity_exception, exceptions,
            view);
  parse_all(listed.pods, "Pod", crd::parse_pod, view.pods, view);
  for (const json& node : listed.nodes) {
    view.nodes.push_back({string_at(node, "metadata", "name"), string_at(node, "spec", "providerID"),
                          condition_ready(node), string_at(node, "status", "nodeInfo", "kernelVersion"),
                          string_at(node, "status", "nodeInfo", "containerRuntimeVersion"),
                          string_at(node, "metadata", "labels", kAksNetworkPluginLabel),
                          string_at(node, "metadata", "labels", kAksAgentPoolLabel)});
  }
  for (const json& account : listed.service_accounts) {
    // An account that cannot be parsed names no identity the agent would use either.
    if (auto parsed = crd::parse_service_account(account); parsed && !parsed->client_id.empty()) {
      view.workload_accounts.push_back(std::move(*parsed));
    }
  }
  for (const json& pod : listed.pods) {
    if (!is_agent_pod(pod, podid_namespace)) continue;
    view.agents.push_back({string_at(pod, "metadata", "name"), string_at(pod, "spec", "nodeName"),
                           condition_ready(pod)});
  }
  view.store = std::make_unique<agent::IdentityStore>();
  view.store->replace_identities(listed.identities);
  view.store->replace_bindings(listed.bindings);
  view.store->replace_assigned_identities(listed.assigned);
  view.store->replace_exceptions(listed.exceptions);
  return view;
}

}  // namespace podid::cli
