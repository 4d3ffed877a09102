// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round.h"

#include "controller/round/round_applier.h"
#include "controller/round/round_interpretation.h"
#include "podid/log.h"

namespace podid::controller {

boost::asio::awaitable<Outcome> run_round(std::shared_ptr<const ClusterView> view, std::string key, RoundDeps& deps,
                                          RoundMemory& memory, ControllerMetrics& metrics) {
  const auto started = deps.clock.now();
  const ClusterView& v = *view;

  const std::optional<SyncTarget> target = plan_sync(v, key, memory, deps.immutable_client_ids);
  const std::string name = compute_name(key, target);
  std::optional<SyncResult> result;
  ComputeObservation observation;
  Outcome outcome = Outcome::success();
  if (target) {
    SyncResult r = co_await sync_compute_identities(deps.arm, deps.ledger, *target, deps.sync);
    SyncInterpretation meaning = interpret_sync(*target, v.desired.computes.contains(key), r, name);
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
    co_return Outcome::failure();
  }

  // Locals, not temporaries, across co_await (GCC 12).
  const std::vector<AssignedIdentityStep> steps = plan_assigned_identity_steps(v, key, observation);
  const auto writes_start = deps.clock.now();
  BindingTallies tallies;
  const bool written =
      co_await apply_assigned_identity_steps(steps, deps.assigned, memory, metrics, writes_start, tallies);
  const std::vector<EventToPost> events = binding_events(tallies, name);
  co_await post_events(events, deps.events);
  if (result) {
    ConditionPlan conditions = plan_conditions(v, key, observation, *result, memory);
    for (auto& [identity, errors] : conditions.identity_errors) {
      if (errors.empty()) {
        memory.identity_errors.erase(identity);
      } else {
        memory.identity_errors[identity] = std::move(errors);
      }
    }
    co_await write_conditions(conditions.writes, deps.conditions);
  }

  if (!written && outcome.kind == Outcome::Kind::kSuccess) outcome = Outcome::failure();
  if (!result) metrics.reconciled(written ? "ok" : "failed", deps.clock.now() - started);
  co_return outcome;
}

}  // namespace podid::controller
