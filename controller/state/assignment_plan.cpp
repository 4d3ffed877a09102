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

// metadata.<map>.<key> of `object`, if present as a string.
std::optional<std::string> metadata_entry(const json& object, std::string_view map, std::string_view key) {
  const json* md = member(object, "metadata");
  const json* m = md != nullptr ? member(*md, map) : nullptr;
  const json* v = m != nullptr ? member(*m, key) : nullptr;
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
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

const json* embedded(const json& aai, std::string_view ref) {
  const json* spec = member(aai, "spec");
  return spec != nullptr ? member(*spec, ref) : nullptr;
}

std::optional<crd::AzureIdentity> embedded_identity(const json& aai) {
  const json* ref = embedded(aai, "azureIdentityRef");
  if (ref == nullptr) return std::nullopt;
  auto parsed = crd::parse_azure_identity(*ref);
  if (!parsed) return std::nullopt;
  return std::move(parsed.value());
}

// What ARM must hold for an AAI standing for this identity: its resource id, or "" for types 1 and 2.
std::string arm_resource_id(const crd::AzureIdentity& id) {
  return id.type == crd::IdentityType::kUserAssigned ? id.resource_id : std::string();
}

bool same_identity(const json& existing_aai, const DesiredAssignment& d) {
  auto before = embedded_identity(existing_aai);
  if (!before) return false;
  const crd::AzureIdentity& now = d.identity->object;
  return before->ns == now.ns && before->name == now.name &&
         uid_of(*embedded(existing_aai, "azureIdentityRef")) == uid_of(*d.identity->raw) &&
         !now.token_relevant_change_from(*before) && before->namespaced_behavior == now.namespaced_behavior &&
         before->principal_id == now.principal_id;
}

bool same_binding(const json& existing_aai, const DesiredAssignment& d) {
  const json* ref = embedded(existing_aai, "azureBindingRef");
  if (ref == nullptr) return false;
  auto before = crd::parse_azure_identity_binding(*ref);
  if (!before) return false;
  const crd::AzureIdentityBinding& now = d.binding->object;
  return before->ns == now.ns && before->name == now.name && before->azure_identity == now.azure_identity &&
         before->selector == now.selector && uid_of(*ref) == uid_of(*d.binding->raw);
}

// Whether what Azure must hold for this AAI changed: then its state restarts at Created.
bool azure_side_changed(const Cached<crd::AzureAssignedIdentity>& existing, const DesiredAssignment& d) {
  auto before = embedded_identity(*existing.raw);
  if (!before || before->type != d.identity->object.type ||
      !arm::same_id(arm_resource_id(*before), arm_resource_id(d.identity->object))) {
    return true;
  }
  // The predecessor's AAIs name no compute; for them the node stands in (same node, same compute).
  if (auto compute = metadata_entry(*existing.raw, "annotations", kComputeAnnotation)) return *compute != d.compute_key;
  return existing.object.node != d.node;
}

bool differs(const Cached<crd::AzureAssignedIdentity>& existing, const DesiredAssignment& d) {
  const crd::AzureAssignedIdentity& e = existing.object;
  return e.pod != d.pod || e.pod_namespace != d.pod_namespace || e.node != d.node ||
         metadata_entry(*existing.raw, "labels", kNodeNameLabel) != d.node ||
         metadata_entry(*existing.raw, "annotations", kComputeAnnotation) != d.compute_key ||
         !same_identity(*existing.raw, d) || !same_binding(*existing.raw, d);
}

// The existing object with podid's labels, annotation, finalizer and spec; everything else it carries is kept.
json updated_object(const Cached<crd::AzureAssignedIdentity>& existing, const DesiredAssignment& d, bool reset_state) {
  json built = build_assigned_identity(d, kStateCreated);
  json out = *existing.raw;
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

bool being_deleted(const json& raw) {
  const json* md = member(raw, "metadata");
  return md != nullptr && member(*md, "deletionTimestamp") != nullptr;
}

// The compute an existing AAI that is going away stands for.
std::string removal_compute(const Cached<crd::AzureAssignedIdentity>& existing,
                            const std::map<std::string, std::string, std::less<>>& node_computes) {
  if (auto compute = metadata_entry(*existing.raw, "annotations", kComputeAnnotation)) return *compute;
  auto it = node_computes.find(existing.object.node);
  return it != node_computes.end() ? it->second : std::string();
}

// The identity id an existing AAI stands for on its compute: from the embedded identity when it parses (types 1
// and 2 need nothing), else whatever resource id it names (so a removal waits for ARM rather than guessing).
std::string existing_resource_id(const Cached<crd::AzureAssignedIdentity>& existing) {
  if (auto id = embedded_identity(*existing.raw)) return arm_resource_id(*id);
  return existing.object.identity_resource_id;
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
  json metadata = {{"name", a.name},
                   {"namespace", a.ns},
                   {"labels", {{std::string(kNodeNameLabel), a.node}}},
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

AssignmentPlan plan_assignments(const DesiredState& desired,
                                const std::vector<Cached<crd::AzureAssignedIdentity>>& existing) {
  std::map<std::string, std::string, std::less<>> node_computes;
  for (const auto& [key, need] : desired.computes) {
    for (const auto& node : need.nodes) node_computes.emplace(node, key);
  }
  std::map<std::pair<std::string, std::string>, const DesiredAssignment*> wanted;
  for (const auto& d : desired.assignments) wanted.try_emplace({d.ns, d.name}, &d);

  AssignmentPlan plan;
  std::set<std::pair<std::string, std::string>> seen;  // (ns, name) of the existing AAIs
  for (const auto& e : existing) {
    const auto key = std::make_pair(e.object.ns, e.object.name);
    seen.insert(key);
    auto w = wanted.find(key);
    if (w == wanted.end() || being_deleted(*e.raw)) {
      PlanItem item;
      item.ns = e.object.ns;
      item.name = e.object.name;
      item.compute_key = removal_compute(e, node_computes);
      item.identity_resource_id = existing_resource_id(e);
      item.state = e.object.state;
      item.existing = e.raw;
      plan.remove.push_back(std::move(item));
      continue;
    }
    const DesiredAssignment& d = *w->second;
    PlanItem item = from_desired(d);
    if (differs(e, d)) {
      bool reset = azure_side_changed(e, d);
      item.state = reset ? crd::AssignedState::kCreated : e.object.state;
      item.object = updated_object(e, d, reset);
      item.existing = e.raw;
      plan.update.push_back(std::move(item));
    } else {
      item.state = e.object.state;
      item.existing = e.raw;
      plan.keep.push_back(std::move(item));
    }
  }
  for (const auto& d : desired.assignments) {
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

}  // namespace podid::controller
