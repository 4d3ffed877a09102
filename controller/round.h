// SPDX-License-Identifier: Apache-2.0
//
// One round for one compute key (a scale set or VM; "" for assignments on nodes that are no Azure VM): the ARM
// work (reconcile/compute_reconciler.h), then what it means in the cluster, from one consistent view:
//   AzureAssignedIdentities created, replaced, given their state (assignment_states.h) or removed — an AAI
//     whose identity the round found on the compute is created directly as Assigned (one write, not two);
//   one Event per binding and round ("binding applied" / "binding apply error" / "binding removed", the
//     predecessor's reasons), not one per pod: under churn the predecessor's per-pod events were a write each;
//   the "Assigned" condition on each AzureIdentity and binding concerned: False with ARM's reason, the missing
//     role, scope, principal and the `az role assignment create ...` that fixes it, True once it lands.
// The ARM round runs first and the AAIs are written after, so an AAI says what Azure holds, never what podid
// hopes it will.
//
// Errors: none escape. The returned Outcome feeds the work queue (success, failure with backoff, throttled).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controller/arm/arm_client.h"
#include "controller/kube/assigned_identity_writer.h"
#include "controller/kube/condition_writer.h"
#include "controller/kube/event_recorder.h"
#include "controller/kube/ledger_store.h"
#include "controller/metrics.h"
#include "controller/reconcile/compute_reconciler.h"
#include "controller/reconcile/work_queue.h"
#include "controller/state/assignment_plan.h"
#include "controller/state/desired_state.h"

namespace podid::controller {

// One consistent view of the caches, shared by the rounds that start while it is the latest.
struct View {
  ClusterSnapshot snapshot;
  DesiredState desired;  // points into snapshot
  std::vector<Cached<crd::AzureAssignedIdentity>> existing;
  AssignmentPlan plan;  // points into desired and existing
  std::vector<DesiredProblem> problems;  // desired.problems plus objects that did not parse
  // Per compute key: does any AAI need a write or a removal (create, update, remove, or kept but not Assigned)?
  std::set<std::string, std::less<>> computes_with_pending_assignments;
};

std::shared_ptr<View> make_view(ClusterSnapshot snapshot, std::vector<Cached<crd::AzureAssignedIdentity>> existing,
                                std::vector<DesiredProblem> invalid);

struct RoundDeps {
  arm::ArmClient& arm;
  kube::ConfigMapLedger& ledger;
  kube::AssignedIdentityWriter& assigned;
  kube::EventRecorder& events;
  kube::ConditionWriter& conditions;
  std::vector<std::string> immutable_client_ids;  // lower-case
  ReconcileOptions reconcile;
  // False once this replica no longer leads: a round that was in flight then stops before its Kubernetes writes
  // (the new leader's rounds redo them from their own view).
  std::function<bool()> still_leading = [] { return true; };
};

// What rounds learn and later rounds (and the queueing decision) use.
struct RoundMemory {
  // Per compute key: the desired identity ids (canonical keys) the last completed round converged to.
  std::map<std::string, std::vector<std::string>, std::less<>> applied;
  // Computes the ledger names (also those no node is on any more), by key.
  std::map<std::string, arm::ResourceId, std::less<>> ledger_computes;
  // When each desired AAI ("ns/name") was first seen needed, for the assignment latency metric.
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> first_needed;
  // Per identity ("ns/name") and compute key: why the last round there left it unassigned.
  std::map<std::string, std::map<std::string, std::string>, std::less<>> identity_errors;
};

boost::asio::awaitable<Outcome> run_compute_round(std::shared_ptr<const View> view, std::string key, RoundDeps& deps,
                                                  RoundMemory& memory, ControllerMetrics& metrics);

// Canonical keys of a list of ids, sorted (what RoundMemory::applied holds).
std::vector<std::string> canonical_set(const std::vector<std::string>& ids);

}  // namespace podid::controller
