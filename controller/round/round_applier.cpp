// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round_applier.h"

namespace podid::controller {
namespace {

using nlohmann::json;
using Write = AssignedIdentityStep::Write;

// One step's write; the server's copy (null when there is none to keep), or the error.
boost::asio::awaitable<Result<json>> write(const AssignedIdentityStep& step, Write how,
                                           kube::AssignedIdentityWriter& writer) {
  const PlanItem& item = *step.item;
  switch (how) {
    case Write::kNone:
      co_return json(nullptr);
    case Write::kRemove: {
      const bool has_finalizer = !item.existing || item.existing->finalizer >= 0;
      co_return co_await writer.remove(item.ns, item.name, has_finalizer);
    }
    case Write::kFinalize: {
      const int hint = item.existing ? item.existing->finalizer : -1;
      co_return co_await writer.finalize(item.ns, item.name, hint);
    }
    case Write::kSetState:
      co_return co_await writer.set_state(item.ns, item.name, step.state);
    case Write::kCreate:
    case Write::kReplace:
      break;
  }
  // Two statements: GCC 12 miscompiles co_await inside ?: (see common/http).
  Result<kube::AssignedIdentityWrite> w = Error{};
  if (how == Write::kCreate) {
    w = co_await writer.create(assigned_identity_to_write(step));
  } else {
    w = co_await writer.update(item.ns, item.name,
                               [&step](json current) { return assigned_identity_to_write(step, current); });
  }
  if (!w) co_return w.error();
  if (w->outcome == kube::AssignedIdentityWrite::Outcome::kConflict) {
    co_return Error{std::make_error_code(std::errc::resource_unavailable_try_again), "conflict"};
  }
  // kAlreadyExists: written a moment ago (by this round's predecessor, or a previous leader) and not yet in the
  // cache; `object` is what the server holds, and the next slice plans it as kept or updated. Not a failure.
  co_return std::move(w->object);
}

}  // namespace

boost::asio::awaitable<bool> apply_assigned_identity_steps(const AssignedIdentitySteps& plan,
                                                           kube::AssignedIdentityWriter& writer, RoundMemory& memory,
                                                           ControllerMetrics& metrics,
                                                           std::chrono::steady_clock::time_point now,
                                                           BindingTallies& tallies, const ObservedWrite& observed) {
  std::vector<bool> batch_done;
  for (const auto& batch : plan.batches) {
    Status marked = co_await writer.delete_collection(batch.ns, batch.pod_uids);
    batch_done.push_back(marked.ok());
  }
  bool all_written = true;
  for (const auto& step : plan.steps) {
    Write how = step.write;
    if (step.batch && !batch_done.at(*step.batch)) how = Write::kRemove;
    Result<json> written = co_await write(step, how, writer);
    if (!written) {
      all_written = false;
      continue;
    }
    if (written->is_object() && observed) observed(*written);
    const std::string key = assigned_identity_key(*step.item);
    if (how == Write::kRemove || how == Write::kFinalize) {
      memory.first_needed.erase(key);
    } else if (step.assigned) {
      if (auto it = memory.first_needed.find(key); it != memory.first_needed.end()) {
        metrics.assigned(now - it->second);
        memory.first_needed.erase(it);
      }
    }
    tally(tallies, step);
  }
  co_return all_written;
}

boost::asio::awaitable<void> post_events(const std::vector<EventToPost>& events, kube::EventRecorder& recorder) {
  for (const auto& e : events) co_await recorder.record(e.object, e.type, e.reason, e.message);
}

boost::asio::awaitable<void> write_conditions(const std::vector<ConditionToWrite>& conditions,
                                              kube::ConditionWriter& writer, RoundMemory& memory) {
  for (const auto& c : conditions) {
    auto written = co_await writer.set(c.target, *c.object, c.condition);
    if (written) continue;
    // Not written: forget it, so that the next round writes it again.
    auto it = memory.conditions_written.find(condition_memory_key(c.target, *c.object));
    if (it != memory.conditions_written.end() && it->second == written_condition(*c.object, c.condition)) {
      memory.conditions_written.erase(it);
    }
  }
}

}  // namespace podid::controller
