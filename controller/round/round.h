// SPDX-License-Identifier: Apache-2.0
//
// One round for one compute key (a scale set or VM; "" for assignments on nodes that are no Azure VM), from the
// compute's slice taken when the round starts (state/compute_slice.h): the ARM sync
// (reconcile/identity_sync.h), then what it means in the cluster. Every decision is in round_interpretation.h
// (pure, unit-tested); round_applier.h makes the writes; this file only puts them in order:
//   plan_sync -> sync_compute_identities -> interpret_sync (memory, metrics)
//   -> [stop here if this replica no longer leads: the new leader redoes the writes from its own slice]
//   -> AzureAssignedIdentity steps -> Events per binding (event_aggregator.h) -> conditions.
//
// Errors: none escape. The returned Outcome feeds the work queue (success, failure with backoff, throttled).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controller/arm/arm_client.h"
#include "controller/kube/assigned_identity_writer.h"
#include "controller/kube/condition_writer.h"
#include "controller/kube/event_recorder.h"
#include "controller/kube/ledger_store.h"
#include "controller/metrics.h"
#include "controller/reconcile/identity_sync.h"
#include "controller/reconcile/subscription_budget.h"
#include "controller/reconcile/work_queue.h"
#include "controller/round/event_aggregator.h"
#include "controller/round/round_applier.h"
#include "controller/round/round_memory.h"
#include "controller/state/compute_slice.h"
#include "podid/clock.h"

namespace podid::controller {

struct RoundDeps {
  arm::ArmClient& arm;
  kube::ConfigMapLedger& ledger;  // also lists every ledger (the computes podid holds identities on)
  kube::AssignedIdentityWriter& assigned;
  kube::EventRecorder& events;
  kube::ConditionWriter& conditions;
  const SteadyClock& clock;
  std::vector<std::string> immutable_client_ids;  // lower-case
  SyncOptions sync;
  // False once this replica no longer leads: a round that was in flight then stops before its Kubernetes writes
  // (the new leader's rounds redo them from their own caches).
  std::function<bool()> still_leading = [] { return true; };
  // The server's answer to each AzureAssignedIdentity write (the caches apply it at once).
  ObservedWrite observed;
};

struct RoundReport {
  Outcome outcome;    // for the work queue
  BudgetSeen budget;  // what the round saw of its subscription's ARM budget (nothing without an ARM call)
};

// `events` holds the round's "binding applied" / "binding removed" tallies for their window; errors are posted.
boost::asio::awaitable<RoundReport> run_round(ComputeSlice slice, RoundDeps& deps, RoundMemory& memory,
                                              ControllerMetrics& metrics, BindingEventAggregator& events);

}  // namespace podid::controller
