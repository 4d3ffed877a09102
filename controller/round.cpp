// SPDX-License-Identifier: Apache-2.0
#include "controller/round.h"

#include <algorithm>

#include "controller/state/assignment_states.h"
#include "podid/ascii.h"
#include "podid/log.h"

namespace podid::controller {
namespace {

using nlohmann::json;
using kube::EventType;

std::string object_key(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }

bool contains_ptr(const std::vector<PlanItem>& items, const PlanItem* item) {
  return !items.empty() && item >= items.data() && item < items.data() + items.size();
}

// What users read in an Event or a condition about one identity ARM would not take.
std::string explain(const arm::ArmError& e, std::string_view compute) {
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

std::string round_error(const ComputeResult& r, std::string_view compute) {
  if (r.error) return explain(*r.error, compute);
  std::string out = "round for " + std::string(compute) + " ended " + std::string(to_string(r.status));
  if (!r.detail.empty()) out += ": " + r.detail;
  if (r.retry_after) out += " (ARM asked to wait " + std::to_string(r.retry_after->count()) + " s)";
  return out;
}

// The condition reason for an identity's failure on a compute: ARM's error code when there is one.
std::string failure_reason(const ComputeResult& r, const std::string& identity_id) {
  for (const auto& [id, e] : r.set_aside) {
    if (arm::same_id(id, identity_id)) return e.code;
  }
  if (r.error) return r.error->code;
  return r.status == RoundStatus::kThrottled ? "Throttled" : "AssignmentPending";
}

// Per binding and round, the Events to post (aggregated: one per binding, not one per pod).
struct BindingReport {
  json binding;  // the object the Event is about
  std::size_t applied = 0, removed = 0;
  std::vector<std::string> errors;
};

Outcome outcome_of(const ComputeResult& r) {
  switch (r.status) {
    case RoundStatus::kConverged:
    case RoundStatus::kGone: return Outcome::success();
    case RoundStatus::kThrottled:
      return Outcome::throttled(r.retry_after ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(*r.retry_after)
                                              : std::chrono::steady_clock::duration{});
    default: return Outcome::failure();  // partial included: the set-aside identities are retried with backoff
  }
}

std::string_view result_label(const ComputeResult& r) {
  switch (r.status) {
    case RoundStatus::kConverged:
    case RoundStatus::kGone: return "ok";
    case RoundStatus::kPartial: return "partial";
    case RoundStatus::kThrottled: return "throttled";
    default: return "failed";
  }
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

std::shared_ptr<View> make_view(ClusterSnapshot snapshot, std::vector<Cached<crd::AzureAssignedIdentity>> existing,
                                std::vector<DesiredProblem> invalid) {
  auto v = std::make_shared<View>();
  v->snapshot = std::move(snapshot);
  v->desired = compute_desired_state(v->snapshot);
  v->existing = std::move(existing);
  v->plan = plan_assignments(v->desired, v->existing);
  v->problems = v->desired.problems;
  v->problems.insert(v->problems.end(), invalid.begin(), invalid.end());
  for (const auto* list : {&v->plan.create, &v->plan.update, &v->plan.remove}) {
    for (const auto& item : *list) v->computes_with_pending_assignments.insert(item.compute_key);
  }
  for (const auto& item : v->plan.keep) {
    if (item.state != crd::AssignedState::kAssigned) v->computes_with_pending_assignments.insert(item.compute_key);
  }
  return v;
}

boost::asio::awaitable<Outcome> run_compute_round(std::shared_ptr<const View> view, std::string key, RoundDeps& deps,
                                                  RoundMemory& memory, ControllerMetrics& metrics) {
  const auto started = std::chrono::steady_clock::now();
  const View& v = *view;

  // Immutable resource ids: those of the identities whose client id the operator declared immutable (ARM's
  // clientId per identity covers identities no AzureIdentity names; the reconciler matches those).
  std::vector<std::string> immutable_ids;
  for (const auto& id : v.snapshot.identities) {
    if (id.object.resource_id.empty()) continue;
    if (std::find(deps.immutable_client_ids.begin(), deps.immutable_client_ids.end(),
                  ascii::lowered(id.object.client_id)) != deps.immutable_client_ids.end()) {
      immutable_ids.push_back(id.object.resource_id);
    }
  }

  ComputeObservation observation;
  std::optional<ComputeResult> result;
  std::string compute_name = key.empty() ? "(no Azure VM)" : key;
  Outcome outcome = Outcome::success();
  if (!key.empty()) {
    std::optional<arm::ResourceId> compute;
    auto need = v.desired.computes.find(key);
    if (need != v.desired.computes.end()) {
      compute = need->second.compute;
    } else if (auto l = memory.ledger_computes.find(key); l != memory.ledger_computes.end()) {
      compute = l->second;  // no node on it any more: remove what podid added
    }
    if (compute) {
      compute_name = compute->id();
      ComputeTarget target{.compute = *compute,
                           .desired = need != v.desired.computes.end() ? need->second.identity_ids : std::vector<std::string>{},
                           .immutable_ids = immutable_ids,
                           .immutable_client_ids = deps.immutable_client_ids};
      ComputeResult r = co_await reconcile_compute(deps.arm, deps.ledger, target, deps.reconcile);
      if (r.status == RoundStatus::kGone) {
        observation.observed = true;  // nothing is on a compute that does not exist
      } else if (r.identities) {
        observation.observed = true;
        observation.present = *r.identities;
      }
      for (const auto& [id, e] : r.set_aside) observation.set_aside.emplace(id, explain(e, compute_name));
      if (!r.completed() && r.status != RoundStatus::kGone) observation.error = round_error(r, compute_name);
      const auto& ledger = r.ledger;  // as the round left it: no second read
      if (ledger) {
        for (const auto& id : *ledger) {
          bool immutable = std::any_of(immutable_ids.begin(), immutable_ids.end(),
                                       [&](const std::string& i) { return arm::same_id(i, id); });
          if (!immutable) observation.removable.push_back(id);
        }
        // Remember computes podid holds identities on, so that when their last node goes (moved, deleted,
        // scaled in) a round still removes what podid added there.
        if (!ledger->empty()) {
          memory.ledger_computes.insert_or_assign(key, *compute);
        } else if (need == v.desired.computes.end()) {
          memory.ledger_computes.erase(key);
        }
      }
      if (r.completed() || r.status == RoundStatus::kGone) memory.applied[key] = canonical_set(target.desired);
      if (r.status == RoundStatus::kThrottled && r.retry_after) metrics.throttled_wait(*r.retry_after);
      metrics.set_identities(compute_name, target.desired.size());
      metrics.reconciled(result_label(r), std::chrono::steady_clock::now() - started);
      outcome = outcome_of(r);
      result = std::move(r);
    }
  }

  if (!deps.still_leading()) {
    log::warn("leadership lost during a round: its writes are left to the new leader", {{"compute", compute_name}});
    co_return Outcome::failure();
  }

  // What the round means for each AzureAssignedIdentity of this compute.
  std::map<std::string, BindingReport, std::less<>> reports;  // by binding ns/name
  auto report_for = [&](const PlanItem& item) -> BindingReport& {
    json binding = json::object();
    if (item.desired && item.desired->binding) {
      binding = *item.desired->binding->raw;
    } else if (item.existing) {
      binding = item.existing->value("spec", json::object()).value("azureBindingRef", json::object());
    }
    const json& md = binding.value("metadata", json::object());
    auto& r = reports[object_key(md.value("namespace", ""), md.value("name", ""))];
    if (r.binding.is_null()) r.binding = std::move(binding);
    return r;
  };
  const auto now = std::chrono::steady_clock::now();
  bool kube_failed = false;
  for (const StateChange& change : settle_states(v.plan, key, observation)) {
    const PlanItem& item = *change.item;
    const std::string aai = object_key(item.ns, item.name);
    if (change.kind == StateChange::Kind::kRemove) {
      if (auto st = co_await deps.assigned.remove(item.ns, item.name); !st) {
        kube_failed = true;
        continue;
      }
      memory.first_needed.erase(aai);
      ++report_for(item).removed;
      continue;
    }
    const bool assigned = change.kind == StateChange::Kind::kAssigned;
    const std::string state(assigned ? kStateAssigned : kStateCreated);
    Status written;
    if (contains_ptr(v.plan.create, &item) || contains_ptr(v.plan.update, &item)) {
      json object = contains_ptr(v.plan.create, &item) ? build_assigned_identity(*item.desired, state) : item.object;
      object["status"]["status"] = state;
      object["status"]["availableReplicas"] = 1;
      // Two statements: GCC 12 miscompiles co_await inside ?: (see common/http).
      Result<kube::AssignedIdentityWrite> w = Error{};
      if (contains_ptr(v.plan.create, &item)) {
        w = co_await deps.assigned.create(std::move(object));
      } else {
        w = co_await deps.assigned.replace(std::move(object));
      }
      if (!w || w->outcome == kube::AssignedIdentityWrite::Outcome::kConflict) {
        written = w ? Status(Error{std::make_error_code(std::errc::resource_unavailable_try_again), "conflict"}) : Status(w.error());
      }
      // kAlreadyExists: written a moment ago (by this round's predecessor, or a previous leader) and not yet in
      // the cache; the next view plans it as kept or updated. Not a failure: no backoff for it.
    } else if (change.write_status) {
      written = co_await deps.assigned.set_state(item.ns, item.name, state);
    }
    if (!written) {
      kube_failed = true;
      continue;
    }
    if (assigned) {
      if (auto it = memory.first_needed.find(aai); it != memory.first_needed.end()) {
        metrics.assigned(now - it->second);
        memory.first_needed.erase(it);
      }
      if (change.write_status || !contains_ptr(v.plan.keep, &item)) ++report_for(item).applied;
    } else if (!change.error.empty()) {
      auto& r = report_for(item);
      if (std::find(r.errors.begin(), r.errors.end(), change.error) == r.errors.end()) r.errors.push_back(change.error);
    }
  }

  for (auto& [name, r] : reports) {
    if (r.binding.is_null() || !r.binding.contains("metadata")) continue;
    auto ref = kube::object_ref(r.binding);
    if (ref.kind.empty()) ref.kind = "AzureIdentityBinding";
    if (ref.api_version.empty()) ref.api_version = "aadpodidentity.k8s.io/v1";
    if (r.applied) {
      co_await deps.events.record(ref, EventType::kNormal, "binding applied",
                                  "identity assigned to " + std::to_string(r.applied) + " pod(s) on " + compute_name);
    }
    if (r.removed) {
      co_await deps.events.record(ref, EventType::kNormal, "binding removed",
                                  "assignment removed for " + std::to_string(r.removed) + " pod(s) on " + compute_name);
    }
    for (const auto& e : r.errors) co_await deps.events.record(ref, EventType::kWarning, "binding apply error", e);
  }

  // Conditions: per identity (and its bindings) that this compute's pods need, over every compute it is on.
  if (result) {
    std::set<const Cached<crd::AzureIdentity>*> identities;
    std::map<const Cached<crd::AzureIdentity>*, std::set<const Cached<crd::AzureIdentityBinding>*>> bindings;
    for (const auto& a : v.desired.assignments) {
      if (a.compute_key != key || !a.needs_arm() || !a.identity) continue;
      identities.insert(a.identity);
      if (a.binding) bindings[a.identity].insert(a.binding);
    }
    for (const auto* identity : identities) {
      const std::string id_key = object_key(identity->object.ns, identity->object.name);
      const std::string& rid = identity->object.resource_id;
      bool present = std::any_of(observation.present.begin(), observation.present.end(),
                                 [&](const std::string& p) { return arm::same_id(p, rid); });
      auto& errors = memory.identity_errors[id_key];
      std::string reason;
      if (present) {
        errors.erase(key);
      } else if (observation.observed || !observation.error.empty()) {
        auto aside = std::find_if(observation.set_aside.begin(), observation.set_aside.end(),
                                  [&](const auto& kv) { return arm::same_id(kv.first, rid); });
        errors[key] = failure_reason(*result, rid) + "\n" +
                      (aside != observation.set_aside.end() ? aside->second : observation.error);
      }
      kube::Condition condition{.type = "Assigned", .status = errors.empty(), .reason = "Assigned",
                                .message = "on every scale set and VM its pods run on"};
      if (!errors.empty()) {
        const std::string& first = errors.begin()->second;
        condition.reason = first.substr(0, first.find('\n'));
        condition.message = first.substr(first.find('\n') + 1);
        if (errors.size() > 1) condition.message += " (and on " + std::to_string(errors.size() - 1) + " more)";
      }
      if (errors.empty()) memory.identity_errors.erase(id_key);
      (void)co_await deps.conditions.set(kube::ConditionTarget::kAzureIdentity, *identity->raw, condition);
      for (const auto* binding : bindings[identity]) {
        (void)co_await deps.conditions.set(kube::ConditionTarget::kAzureIdentityBinding, *binding->raw, condition);
      }
    }
  }

  if (kube_failed && outcome.kind == Outcome::Kind::kSuccess) outcome = Outcome::failure();
  if (!result) metrics.reconciled(kube_failed ? "failed" : "ok", std::chrono::steady_clock::now() - started);
  co_return outcome;
}

}  // namespace podid::controller
