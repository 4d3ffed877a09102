// SPDX-License-Identifier: Apache-2.0
//
// One round for one compute key (a scale set or VM; "" for assignments on nodes that are no Azure VM), from one
// consistent view: the ARM sync (reconcile/identity_sync.h), then what it means in the cluster. Every decision
// is in round_interpretation.h (pure, unit-tested); round_applier.h makes the writes; this file only puts them
// in order:
//   plan_sync -> sync_compute_identities -> interpret_sync (memory, metrics)
//   -> [stop here if this replica no longer leads: the new leader redoes the writes from its own view]
//   -> AzureAssignedIdentity steps -> Events per binding -> conditions.
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
#include "controller/reconcile/work_queue.h"
#include "controller/round/round_memory.h"
#include "controller/state/cluster_view.h"
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
  // (the new leader's rounds redo them from their own view).
  std::function<bool()> still_leading = [] { return true; };
};

boost::asio::awaitable<Outcome> run_round(std::shared_ptr<const ClusterView> view, std::string key, RoundDeps& deps,
                                          RoundMemory& memory, ControllerMetrics& metrics);

}  // namespace podid::controller
