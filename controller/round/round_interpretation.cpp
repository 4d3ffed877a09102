// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round_interpretation.h"

#include <algorithm>
#include <set>

#include "podid/ascii.h"
#include "podid/crd/workload_identity.h"

namespace podid::controller {
namespace {

using nlohmann::json;

std::string object_key(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }

bool contains_ptr(const std::vector<PlanItem>& items, const PlanItem* item) {
  return !items.empty() && item >= items.data() && item < items.data() + items.size();
}

std::string round_error(const SyncResult& r, std::string_view compute) {
  if (r.error) return explain_refusal(*r.error, compute);
  std::string out = "round for " + std::string(compute) + " ended " + std::string(to_string(r.status));
  if (!r.detail.empty()) out += ": " + r.detail;
  if (r.retry_after) out += " (ARM asked to wait " + std::to_string(r.retry_after->count()) + " s)";
  return out;
}

// The condition reason for an identity's failure on a compute: ARM's error code when there is one.
std::string failure_reason(const SyncResult& r, const std::string& identity_id) {
  for (const auto& [id, e] : r.set_aside) {
    if (arm::same_id(id, identity_id)) return e.code;
  }
  if (r.error) return r.error->code;
  return r.status == SyncStatus::kThrottled ? "Throttled" : "AssignmentPending";
}

Outcome outcome_of(const SyncResult& r) {
  switch (r.status) {
    case SyncStatus::kConverged:
    case SyncStatus::kGone:
      return Outcome::success();
    case SyncStatus::kThrottled:
      return Outcome::throttled(r.retry_after
                                    ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(*r.retry_after)
                                    : std::chrono::steady_clock::duration{});
    default:
      return Outcome::failure();  // partial included: the set-aside identities are retried with backoff
  }
}

std::string_view result_label(const SyncResult& r) {
  switch (r.status) {
    case SyncStatus::kConverged:
    case SyncStatus::kGone:
      return "ok";
    case SyncStatus::kPartial:
      return "partial";
    case SyncStatus::kThrottled:
      return "throttled";
    default:
      return "failed";
  }
}

// The binding an AAI's Events go to: the desired one, else the one the existing AAI's copy names.
void set_binding(AssignedIdentityStep& step) {
  const PlanItem& item = *step.item;
  kube::ObjectRef ref;
  if (item.desired && item.desired->binding) {
    ref = kube::object_ref(*item.desired->binding->raw);
  } else if (item.existing && !item.existing->binding_name.empty()) {
    ref.ns = item.existing->binding_ns;
    ref.name = item.existing->binding_name;
    ref.uid = item.existing->binding_uid;
  } else {
    step.binding_key = "/";
    return;
  }
  if (ref.kind.empty()) ref.kind = "AzureIdentityBinding";
  if (ref.api_version.empty()) ref.api_version = "aadpodidentity.k8s.io/v1";
  step.binding_key = object_key(ref.ns, ref.name);
  step.binding = std::move(ref);
}

std::string condition_text(const kube::Condition& c) {
  return std::string(c.status ? "True" : "False") + "\n" + c.reason + "\n" + c.message;
}

std::string metadata_string(const json& object, const char* key) {
  const json& md = object.value("metadata", json::object());
  return md.value(key, "");
}

}  // namespace

std::vector<std::string> canonical_set(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back(arm::canonical_key(id));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<SyncTarget> plan_sync(const ComputeSlice& slice, const RoundMemory& memory,
                                    const std::vector<std::string>& immutable_client_ids) {
  if (slice.key.empty()) return std::nullopt;
  SyncTarget target;
  if (slice.need) {
    target.compute = slice.need->compute;
    target.desired = slice.need->identity_ids;
  } else if (auto l = memory.ledger_computes.find(slice.key); l != memory.ledger_computes.end()) {
    target.compute = l->second;  // no node on it any more: remove what podid added
  } else {
    return std::nullopt;
  }
  target.immutable_ids = slice.immutable_ids;
  target.immutable_client_ids = immutable_client_ids;
  return target;
}

std::string compute_name(std::string_view key, const std::optional<SyncTarget>& target) {
  if (target) return target->compute.id();
  return key.empty() ? "(no Azure VM)" : std::string(key);
}

std::string explain_refusal(const arm::ArmError& e, std::string_view compute) {
  std::string out = "ARM refused the identity on " + std::string(compute) + ": " + e.code;
  if (!e.principal.empty() && !e.action.empty()) {
    out += ": the controller's identity (principal " + e.principal + ") may not perform " + e.action;
    if (!e.scopes.empty()) out += " on " + e.scopes.front() + (e.scopes.size() > 1 ? " (and others)" : "");
    out += ".";
  } else if (!e.message.empty()) {
    out += ": " + e.message;
  }
  if (auto fix = e.remedy(); !fix.empty()) out += " Fix: " + fix;
  return out;
}

SyncInterpretation interpret_sync(const SyncTarget& target, bool desired_here, const SyncResult& r,
                                  std::string_view compute) {
  SyncInterpretation out;
  ComputeObservation& o = out.observation;
  if (r.status == SyncStatus::kGone) {
    o.observed = true;  // nothing is on a compute that does not exist
  } else if (r.identities) {
    o.observed = true;
    o.present = *r.identities;
  }
  for (const auto& [id, e] : r.set_aside) o.set_aside.emplace(id, explain_refusal(e, compute));
  if (!r.completed() && r.status != SyncStatus::kGone) o.error = round_error(r, compute);
  if (r.ledger) {  // as the sync left it: no second read
    for (const auto& id : *r.ledger) {
      bool immutable = std::any_of(target.immutable_ids.begin(), target.immutable_ids.end(),
                                   [&](const std::string& i) { return arm::same_id(i, id); });
      if (!immutable) o.removable.push_back(id);
    }
    if (!r.ledger->empty()) {
      out.ledger_compute = SyncInterpretation::LedgerCompute::kRemember;
    } else if (!desired_here) {
      out.ledger_compute = SyncInterpretation::LedgerCompute::kForget;
    }
  }
  if (r.completed() || r.status == SyncStatus::kGone) out.applied = canonical_set(target.desired);
  if (r.status == SyncStatus::kThrottled && r.retry_after) out.throttled_wait = *r.retry_after;
  out.outcome = outcome_of(r);
  out.result_label = result_label(r);
  return out;
}

std::string assigned_identity_key(const PlanItem& item) { return object_key(item.ns, item.name); }

AssignedIdentitySteps plan_assigned_identity_steps(const ComputeSlice& slice, const ComputeObservation& observation) {
  using Write = AssignedIdentityStep::Write;
  AssignedIdentitySteps out;
  // Removals by (namespace, pod uid) for the pods that are gone: one request marks them all for deletion when
  // this round removes every AAI that carries that uid (so the request removes exactly those).
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> gone;
  for (const StateChange& change : settle_states(slice.plan, slice.key, observation)) {
    AssignedIdentityStep step;
    step.item = change.item;
    set_binding(step);
    if (change.kind == StateChange::Kind::kRemove) {
      const AssignedRecord& e = *change.item->existing;
      step.write = e.deleting ? Write::kFinalize : Write::kRemove;
      if (!e.deleting && !e.pod_uid.empty() && slice.gone_pod_aais.contains({e.ns, e.pod_uid})) {
        gone[{e.ns, e.pod_uid}].push_back(out.steps.size());
      }
      out.steps.push_back(std::move(step));
      continue;
    }
    step.assigned = change.kind == StateChange::Kind::kAssigned;
    step.state = std::string(step.assigned ? kStateAssigned : kStateCreated);
    if (contains_ptr(slice.plan.create, change.item)) {
      step.write = Write::kCreate;
    } else if (contains_ptr(slice.plan.update, change.item)) {
      step.write = Write::kReplace;
    } else if (change.write_status) {
      step.write = Write::kSetState;
    }
    // settle_states reports an AAI Assigned only when it was not (write_status): each counts as applied.
    if (!step.assigned) step.error = change.error;
    out.steps.push_back(std::move(step));
  }
  std::map<std::string, std::size_t> batch_of_namespace;
  for (const auto& [ns_uid, steps] : gone) {
    if (slice.gone_pod_aais.at(ns_uid) != steps.size()) continue;  // some of that pod's AAIs stay for now
    auto [it, added] = batch_of_namespace.try_emplace(ns_uid.first, out.batches.size());
    if (added) out.batches.push_back({ns_uid.first, {}});
    out.batches[it->second].pod_uids.push_back(ns_uid.second);
    for (std::size_t i : steps) {
      out.steps[i].write = Write::kFinalize;
      out.steps[i].batch = it->second;
    }
  }
  return out;
}

json assigned_identity_to_write(const AssignedIdentityStep& step, const json& current) {
  const PlanItem& item = *step.item;
  json object = step.write == AssignedIdentityStep::Write::kCreate
                    ? build_assigned_identity(*item.desired, step.state)
                    : updated_object(current, *item.desired, item.reset_state);
  object["status"]["status"] = step.state;
  object["status"]["availableReplicas"] = 1;
  return object;
}

void tally(BindingTallies& tallies, const AssignedIdentityStep& step) {
  const bool removed =
      step.write == AssignedIdentityStep::Write::kRemove || step.write == AssignedIdentityStep::Write::kFinalize;
  if (!removed && !step.assigned && step.error.empty()) return;
  auto [it, inserted] = tallies.try_emplace(step.binding_key);
  BindingTally& t = it->second;
  if (inserted) t.binding = step.binding;
  if (removed) {
    ++t.removed;
  } else if (step.assigned) {
    ++t.applied;
  } else if (std::find(t.errors.begin(), t.errors.end(), step.error) == t.errors.end()) {
    t.errors.push_back(step.error);
  }
}

std::string condition_memory_key(kube::ConditionTarget target, const json& object) {
  return std::string(target == kube::ConditionTarget::kAzureIdentity ? "AzureIdentity/" : "AzureIdentityBinding/") +
         metadata_string(object, "namespace") + "/" + metadata_string(object, "name");
}

RoundMemory::WrittenCondition written_condition(const json& object, const kube::Condition& condition) {
  return {metadata_string(object, "resourceVersion"), condition_text(condition)};
}

ConditionPlan plan_conditions(const ComputeSlice& slice, const ComputeObservation& observation,
                              const SyncResult& result, const RoundMemory& memory) {
  ConditionPlan plan;
  const std::string key = slice.key;
  // Identities by (namespace, name), each with its bindings, as the slice's desired AAIs name them.
  std::map<std::pair<std::string, std::string>, const IdentityRecord*> identities;
  std::map<const IdentityRecord*, std::map<std::pair<std::string, std::string>, const BindingRecord*>> bindings;
  // Federated identities this compute's pods use: never on a compute, and their condition says why.
  std::map<std::pair<std::string, std::string>, const IdentityRecord*> federated;
  for (const auto& a : slice.desired) {
    if (a.compute_key != key || !a.identity) continue;
    if (a.identity->object.federated) {
      federated.try_emplace({a.identity->object.ns, a.identity->object.name}, a.identity.get());
    } else if (!a.needs_arm()) {
      continue;
    } else {
      identities.try_emplace({a.identity->object.ns, a.identity->object.name}, a.identity.get());
    }
    if (a.binding)
      bindings[a.identity.get()].try_emplace({a.binding->object.ns, a.binding->object.name}, a.binding.get());
  }
  auto write = [&](kube::ConditionTarget target, const std::shared_ptr<const json>& object,
                   const kube::Condition& condition) {
    // Written on this very version already: the cache has not seen that write come back yet.
    auto done = memory.conditions_written.find(condition_memory_key(target, *object));
    if (done != memory.conditions_written.end() &&
        done->second.resource_version == metadata_string(*object, "resourceVersion") &&
        done->second.condition == condition_text(condition)) {
      return;
    }
    plan.writes.push_back({target, object, condition});
  };
  for (const auto& [id_name, identity] : identities) {
    const std::string id_key = object_key(identity->object.ns, identity->object.name);
    const std::string& rid = identity->object.resource_id;
    bool present = std::any_of(observation.present.begin(), observation.present.end(),
                               [&](const std::string& p) { return arm::same_id(p, rid); });
    std::map<std::string, std::string> errors;
    if (auto it = memory.identity_errors.find(id_key); it != memory.identity_errors.end()) errors = it->second;
    if (present) {
      errors.erase(key);
    } else if (observation.observed || !observation.error.empty()) {
      auto aside = std::find_if(observation.set_aside.begin(), observation.set_aside.end(),
                                [&](const auto& kv) { return arm::same_id(kv.first, rid); });
      errors[key] = failure_reason(result, rid) + "\n" +
                    (aside != observation.set_aside.end() ? aside->second : observation.error);
    }
    kube::Condition condition{.type = "Assigned",
                              .status = errors.empty(),
                              .reason = "Assigned",
                              .message = "on every scale set and VM its pods run on"};
    if (!errors.empty()) {
      const std::string& first = errors.begin()->second;
      condition.reason = first.substr(0, first.find('\n'));
      condition.message = first.substr(first.find('\n') + 1);
      if (errors.size() > 1) condition.message += " (and on " + std::to_string(errors.size() - 1) + " more)";
    }
    write(kube::ConditionTarget::kAzureIdentity, identity->raw, condition);
    for (const auto& [b_name, binding] : bindings[identity]) {
      write(kube::ConditionTarget::kAzureIdentityBinding, binding->raw, condition);
    }
    plan.identity_errors[id_key] = std::move(errors);
  }
  for (const auto& [id_name, identity] : federated) {
    const kube::Condition condition{.type = "Assigned",
                                    .status = true,
                                    .reason = "Federated",
                                    .message = crd::federated_condition_message(identity->object)};
    write(kube::ConditionTarget::kAzureIdentity, identity->raw, condition);
    for (const auto& [b_name, binding] : bindings[identity]) {
      write(kube::ConditionTarget::kAzureIdentityBinding, binding->raw, condition);
    }
  }
  return plan;
}

}  // namespace podid::controller
