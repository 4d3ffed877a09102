// SPDX-License-Identifier: Apache-2.0
#include "controller/round/round_applier.h"

namespace podid::controller {
namespace {

// One step's write; Status{} for kNone.
boost::asio::awaitable<Status> write(const AssignedIdentityStep& step, kube::AssignedIdentityWriter& writer) {
  using Write = AssignedIdentityStep::Write;
  const PlanItem& item = *step.item;
  switch (step.write) {
    case Write::kNone:
      co_return Status{};
    case Write::kRemove:
      co_return co_await writer.remove(item.ns, item.name);
    case Write::kSetState:
      co_return co_await writer.set_state(item.ns, item.name, step.state);
    case Write::kCreate:
    case Write::kReplace:
      break;
  }
  // Two statements: GCC 12 miscompiles co_await inside ?: (see common/http).
  Result<kube::AssignedIdentityWrite> w = Error{};
  if (step.write == Write::kCreate) {
    w = co_await writer.create(assigned_identity_to_write(step));
  } else {
    w = co_await writer.replace(assigned_identity_to_write(step));
  }
  if (!w) co_return w.error();
  if (w->outcome == kube::AssignedIdentityWrite::Outcome::kConflict) {
    co_return Error{std::make_error_code(std::errc::resource_unavailable_try_again), "conflict"};
  }
  // kAlreadyExists: written a moment ago (by this round's predecessor, or a previous leader) and not yet in the
  // cache; the next view plans it as kept or updated. Not a failure: no backoff for it.
  co_return Status{};
}

}  // namespace

boost::asio::awaitable<bool> apply_assigned_identity_steps(const std::vector<AssignedIdentityStep>& steps,
                                                           kube::AssignedIdentityWriter& writer, RoundMemory& memory,
                                                           ControllerMetrics& metrics,
                                                           std::chrono::steady_clock::time_point now,
                                                           BindingTallies& tallies) {
  bool all_written = true;
  for (const auto& step : steps) {
    Status written = co_await write(step, writer);
    if (!written) {
      all_written = false;
      continue;
    }
    const std::string key = assigned_identity_key(*step.item);
    if (step.write == AssignedIdentityStep::Write::kRemove) {
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
                                              kube::ConditionWriter& writer) {
  for (const auto& c : conditions) (void)co_await writer.set(c.target, *c.object, c.condition);
}

}  // namespace podid::controller
