// SPDX-License-Identifier: Apache-2.0
#include "controller/state/assignment_plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace podid::controller {
namespace {

using nlohmann::json;

constexpr std::string_view kLastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

const json* member(const json& parent, std::string_view name) {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(std::string(name));
  return it == parent.end() || it->is_null() ? nullptr : &*it;
}

std::string string_at(const json& parent, std::string_view name) {
  const json* v = member(parent, name);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::string uid_of(const json& object) {
  const json* md = member(object, "metadata");
  return md != nullptr ? string_at(*md, "uid") : std::string();
}

// The embedded copy of an identity or binding (see the header for what is dropped and why). Name and namespace
// come from the parsed object, so a copy always names what it copies.
json trimmed_copy(const json& raw, std::string_view kind, const std::string& ns, const std::string& name) {
  json md = {{"name", name}, {"namespace", ns}};
  const json* raw_md = member(raw, "metadata");
  if (std::string uid = uid_of(raw); !uid.empty()) md["uid"] = uid;
  if (const json* labels = raw_md != nullptr ? member(*raw_md, "labels") : nullptr;
      labels != nullptr && labels->is_object() && !labels->empty()) {
    md["labels"] = *labels;
  }
  if (const json* annotations = raw_md != nullptr ? member(*raw_md, "annotations") : nullptr;
      annotations != nullptr && annotations->is_object()) {
    json kept = *annotations;
    kept.erase(std::string(kLastAppliedAnnotation));
    if (!kept.empty()) md["annotations"] = std::move(kept);
  }
  // List responses leave apiVersion and kind out of their items; a copy states them anyway.
  std::string api_version = string_at(raw, "apiVersion");
  std::string raw_kind = string_at(raw, "kind");
  const json* spec = member(raw, "spec");
  return {{"apiVersion", api_version.empty() ? std::string(kAssignedIdentityApiVersion) : api_version},
          {"kind", raw_kind.empty() ? std::string(kind) : raw_kind},
          {"metadata", std::move(md)},
          {"spec", spec != nullptr && spec->is_object() ? *spec : json::object()}};
}

// What ARM must hold for an AAI standing for this identity: its resource id, or "" for types 1 and 2.
std::string arm_resource_id(const crd::AzureIdentity& id) {
  return identity_needs_compute(id) ? id.resource_id : std::string();
}

bool differs(const AssignedRecord& existing, const DesiredAssignment& d) {
  return !existing.digest || *existing.digest != assignment_digest(d);
}

// Whether what Azure must hold for this AAI changed: then its state restarts at Created.
bool azure_side_changed(const AssignedRecord& existing, const DesiredAssignment& d) {
  if (!existing.identity_parsed || existing.identity_type != d.identity->object.type ||
      !arm::same_id(text(existing.identity_resource_id), arm_resource_id(d.identity->object))) {
    return true;
  }
  // The predecessor's AAIs name no compute; for them the node stands in (same node, same compute).
  if (existing.compute) return *existing.compute != d.compute_key;
  return existing.node != d.node;
}

PlanItem from_desired(const DesiredAssignment& d) {
  PlanItem item;
  item.ns = d.ns;
  item.name = d.name;
  item.compute_key = d.compute_key;
  item.identity_resource_id = arm_resource_id(d.identity->object);
  item.desired = &d;
  return item;
}

}  // namespace

json build_assigned_identity(const DesiredAssignment& a, std::string_view state) {
  const crd::AzureIdentity& id = a.identity->object;
  const crd::AzureIdentityBinding& b = a.binding->object;
  json labels = {{std::string(kNodeNameLabel), a.node}};
  if (!a.pod_uid.empty()) labels[std::string(kPodUidLabel)] = a.pod_uid;
  json metadata = {{"name", a.name},
                   {"namespace", a.ns},
                   {"labels", std::move(labels)},
                   {"annotations", {{std::string(kComputeAnnotation), a.compute_key}}},
                   {"finalizers", json::array({std::string(kAssignedIdentityFinalizer)})}};
  json spec = {{"azureIdentityRef", trimmed_copy(*a.identity->raw, "AzureIdentity", id.ns, id.name)},
               {"azureBindingRef", trimmed_copy(*a.binding->raw, "AzureIdentityBinding", b.ns, b.name)},
               {"pod", a.pod},
               {"podNamespace", a.pod_namespace},
               {"nodename", a.node}};
  return {{"apiVersion", std::string(kAssignedIdentityApiVersion)},
          {"kind", std::string(kAssignedIdentityKind)},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)},
          {"status", {{"status", std::string(state)}, {"availableReplicas", 1}}}};
}

json updated_object(const json& current, const DesiredAssignment& d, bool reset_state) {
  json built = build_assigned_identity(d, kStateCreated);
  json out = current;
  out["apiVersion"] = built["apiVersion"];
  out["kind"] = built["kind"];
  json& md = out["metadata"];
  for (const char* map : {"labels", "annotations"}) {
    if (!md[map].is_object()) md[map] = json::object();
    md[map].update(built["metadata"][map]);
  }
  json& finalizers = md["finalizers"];
  if (!finalizers.is_array()) finalizers = json::array();
  if (std::find(finalizers.begin(), finalizers.end(), built["metadata"]["finalizers"][0]) == finalizers.end()) {
    finalizers.push_back(built["metadata"]["finalizers"][0]);
  }
  out["spec"] = std::move(built["spec"]);
  if (reset_state) out["status"] = std::move(built["status"]);
  return out;
}

Digest assignment_digest(const DesiredAssignment& d) {
  const std::string identity_uid = uid_of(*d.identity->raw);
  const std::string binding_uid = uid_of(*d.binding->raw);
  return assignment_digest(AssignmentContent{.pod = d.pod,
                                             .pod_namespace = d.pod_namespace,
                                             .node = d.node,
                                             .node_label = d.node,
                                             .compute = d.compute_key,
                                             .identity = &d.identity->object,
                                             .identity_uid = identity_uid,
                                             .binding = &d.binding->object,
                                             .binding_uid = binding_uid});
}

AssignmentPlan plan_assignments(const std::vector<DesiredAssignment>& desired, const AssignedRecords& existing,
                                const NodeComputeOf& node_compute) {
  std::map<std::pair<std::string, std::string>, const DesiredAssignment*> wanted;
  for (const auto& d : desired) wanted.try_emplace({d.ns, d.name}, &d);

  AssignmentPlan plan;
  std::set<std::pair<std::string, std::string>> seen;  // (ns, name) of the existing AAIs
  for (const auto& e : existing) {
    const auto key = std::make_pair(e->ns, e->name);
    seen.insert(key);
    auto w = wanted.find(key);
    PlanItem item;
    item.existing = e;
    item.state = e->state;
    if (w == wanted.end() || e->deleting) {
      item.ns = e->ns;
      item.name = e->name;
      // The compute it stands for: named, or (the predecessor's) its node's.
      item.compute_key = e->compute ? *e->compute : node_compute(e->node);
      // From the embedded identity when it parses (types 1 and 2 need nothing), else whatever resource id it
      // names (so a removal waits for ARM rather than guessing).
      item.identity_resource_id = text(e->identity_resource_id);
      plan.remove.push_back(std::move(item));
      continue;
    }
    const DesiredAssignment& d = *w->second;
    PlanItem from = from_desired(d);
    from.existing = e;
    if (differs(*e, d)) {
      from.reset_state = azure_side_changed(*e, d);
      from.state = from.reset_state ? crd::AssignedState::kCreated : e->state;
      plan.update.push_back(std::move(from));
    } else {
      from.state = e->state;
      plan.keep.push_back(std::move(from));
    }
  }
  for (const auto& d : desired) {
    if (seen.contains({d.ns, d.name})) continue;
    PlanItem item = from_desired(d);
    item.state = crd::AssignedState::kCreated;
    plan.create.push_back(std::move(item));
  }
  auto by_key = [](const PlanItem& a, const PlanItem& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); };
  for (auto* list : {&plan.create, &plan.update, &plan.keep, &plan.remove}) {
    std::sort(list->begin(), list->end(), by_key);
  }
  return plan;
}

AssignmentPlan plan_assignments(const DesiredState& desired, const AssignedRecords& existing) {
  std::map<std::string, std::string, std::less<>> node_computes;
  for (const auto& [key, need] : desired.computes) {
    for (const auto& node : need.nodes) node_computes.emplace(node, key);
  }
  return plan_assignments(desired.assignments, existing, [&](std::string_view node) {
    auto it = node_computes.find(node);
    return it != node_computes.end() ? it->second : std::string();
  });
}

}  // namespace podid::controller
