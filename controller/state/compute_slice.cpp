// SPDX-License-Identifier: Apache-2.0
#include "controller/state/compute_slice.h"

#include <algorithm>
#include <set>

#include "podid/ascii.h"

namespace podid::controller {

ComputeSlice make_compute_slice(const DesiredIndex& desired, const AssignedIndex& existing, std::string_view key,
                                const std::vector<std::string>& immutable_client_ids) {
  ComputeSlice s;
  s.key = std::string(key);
  if (auto need = desired.computes().find(key); need != desired.computes().end()) s.need = need->second;

  for (DesiredAssignment copy : desired.assignments_on(key)) {
    if (auto id = desired.identity({copy.identity->object.ns, copy.identity->object.name})) copy.identity = id;
    if (auto b = desired.binding({copy.binding->object.ns, copy.binding->object.name})) copy.binding = b;
    s.desired.push_back(std::move(copy));
  }

  std::set<ObjectName> taken;
  auto weigh = [&](const std::shared_ptr<const AssignedRecord>& e) {
    if (taken.insert({e->ns, e->name}).second) s.existing.push_back(e);
  };
  for (const auto& d : s.desired) {
    if (auto e = existing.find({d.ns, d.name})) weigh(e);
  }
  auto going = [&](const std::shared_ptr<const AssignedRecord>& e) {
    return e->deleting || !desired.desired({e->ns, e->name});
  };
  for (const auto& e : existing.naming(key)) {
    if (going(e)) weigh(e);
  }
  for (const auto& node : existing.nodes_with_unnamed()) {
    if (desired.compute_of_node(node) != key) continue;
    for (const auto& e : existing.unnamed_on(node)) {
      if (going(e)) weigh(e);
    }
  }
  s.plan =
      plan_assignments(s.desired, s.existing, [&](std::string_view node) { return desired.compute_of_node(node); });

  for (const auto& item : s.plan.remove) {
    const AssignedRecord& e = *item.existing;
    if (e.pod_uid.empty()) continue;
    const PodRecord* pod = desired.pod({e.pod_namespace, e.pod});
    if (pod != nullptr && pod->uid == e.pod_uid && pod->needs_identity()) continue;
    s.gone_pod_aais.try_emplace({e.ns, e.pod_uid}, existing.with_pod_uid(e.ns, e.pod_uid));
  }

  for (const auto& [name, id] : desired.identities()) {
    if (id->object.resource_id.empty()) continue;
    if (std::find(immutable_client_ids.begin(), immutable_client_ids.end(), ascii::lowered(id->object.client_id)) !=
        immutable_client_ids.end()) {
      s.immutable_ids.push_back(id->object.resource_id);
    }
  }
  return s;
}

bool has_pending_assignments(const ComputeSlice& s) {
  for (const auto* list : {&s.plan.create, &s.plan.update, &s.plan.remove}) {
    for (const auto& item : *list) {
      if (item.compute_key == s.key) return true;
    }
  }
  for (const auto& item : s.plan.keep) {
    if (item.compute_key == s.key && item.state != crd::AssignedState::kAssigned) return true;
  }
  return false;
}

}  // namespace podid::controller
