// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round.h"

#include "controller/round/round_interpretation.h"
#include "podid/log.h"

namespace podid::controller {

boost::asio::awaitable<RoundReport> run_round(ComputeSlice slice, RoundDeps& deps, RoundMemory& memory,
                                              ControllerMetrics& metrics, BindingEventAggregator& events) {
  const auto started = deps.clock.now();
  const std::string& key = slice.key;

  const std::optional<SyncTarget> target = plan_sync(slice, memory, deps.immutable_client_ids);
  const std::string name = compute_name(key, target);
  std::optional<SyncResult> result;
  ComputeObservation observation;
  RoundReport report{.outcome = Outcome::success()};
  Outcome& outcome = report.outcome;
  if (target) {
    SyncResult r = co_await sync_compute_identities(deps.arm, deps.ledger, *target, deps.sync);
    report.budget = BudgetSeen{.remaining_reads = r.remaining_reads,
                               .remaining_writes = r.remaining_writes,
                               .reads = r.arm_calls - r.patches,
                               .writes = r.patches,
                               .throttled = r.subscription_throttled,
                               .retry_after = r.retry_after};
    SyncInterpretation meaning = interpret_sync(*target, slice.need.has_value(), r, name);
    switch (meaning.ledger_compute) {
      case SyncInterpretation::LedgerCompute::kRemember:
        memory.ledger_computes.insert_or_assign(key, target->compute);
        break;
      case SyncInterpretation::LedgerCompute::kForget:
        memory.ledger_computes.erase(key);
        break;
      case SyncInterpretation::LedgerCompute::kUnchanged:
        break;
    }
    if (meaning.applied) memory.applied[key] = std::move(*meaning.applied);
    if (meaning.throttled_wait) metrics.throttled_wait(*meaning.throttled_wait);
    metrics.set_identities(name, target->desired.size());
    metrics.reconciled(meaning.result_label, deps.clock.now() - started);
    observation = std::move(meaning.observation);
    outcome = meaning.outcome;
    result = std::move(r);
  }

  if (!deps.still_leading()) {
    log::warn("leadership lost during a round: its writes are left to the new leader", {{"compute", name}});
    report.outcome = Outcome::failure();
    co_return report;
  }

  // Locals, not temporaries, across co_await (GCC 12).
  const AssignedIdentitySteps steps = plan_assigned_identity_steps(slice, observation);
  const auto writes_start = deps.clock.now();
  BindingTallies tallies;
  const bool written = co_await apply_assigned_identity_steps(steps, deps.assigned, memory, metrics, writes_start,
                                                              tallies, deps.observed);
  const std::vector<EventToPost> now_events = events.add(tallies, name, deps.clock.now());
  co_await post_events(now_events, deps.events);
  if (result) {
    ConditionPlan conditions = plan_conditions(slice, observation, *result, memory);
    for (auto& [identity, errors] : conditions.identity_errors) {
      if (errors.empty()) {
        memory.identity_errors.erase(identity);
      } else {
        memory.identity_errors[identity] = std::move(errors);
      }
    }
    // Remembered before they are written: a round planning meanwhile (on the same cached version) leaves them.
    for (const auto& c : conditions.writes) {
      memory.conditions_written.insert_or_assign(condition_memory_key(c.target, *c.object),
                                                 written_condition(*c.object, c.condition));
    }
    co_await write_conditions(conditions.writes, deps.conditions, memory);
  }

  if (!written && outcome.kind == Outcome::Kind::kSuccess) outcome = Outcome::failure();
  if (!result) metrics.reconciled(written ? "ok" : "failed", deps.clock.now() - started);
  co_return report;
}

}  // namespace podid::controller
