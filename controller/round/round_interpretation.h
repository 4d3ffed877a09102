// SPDX-License-Identifier: Apache-2.0
//
// What a round for one compute key means, decided without I/O. A round (round.h) runs these in order; the
// applier (round_applier.h) makes the writes they decide, and nothing else decides anything:
//
//   plan_sync               the compute's slice (state/compute_slice.h) and memory -> the ARM sync to run: the
//                           compute's desired identities, or none for a compute no node is on any more but
//                           whose ledger holds identities (podid removes what it added); nullopt for key ""
//                           (nodes that are no Azure VM) and for a compute neither desired nor in the ledger;
//   sync_compute_identities (reconcile/identity_sync.h): the ARM I/O;
//   interpret_sync          the sync's result -> what the round observed on the compute (the input of
//                           assignment_states.h), the memory updates, the work queue's outcome, metric facts;
//   plan_assigned_identity_steps
//                           the observation and the slice's plan -> one step per AzureAssignedIdentity to write
//                           or report (created, replaced, given its state, removed), each saying what its success
//                           counts for: its binding's Event, the assignment latency; and the removals grouped:
//                           the AAIs of pods that are gone are marked for deletion with one request per
//                           namespace (DeleteBatch), when that request removes exactly them, and each then needs
//                           one write (finalize) instead of two;
//   tally                   what the steps that succeeded did, per binding -> the Events (event_aggregator.h): one
//                           per binding and kind ("binding applied" / "binding removed" / "binding apply error",
//                           the predecessor's reasons), not one per pod;
//   plan_conditions         the observation and memory -> the "Assigned" condition of every identity (and its
//                           bindings) this compute's pods need, over every compute it is on: False with ARM's
//                           reason, the missing role, scope, principal and the command that fixes it; True once
//                           it lands; a federated identity's: True, reason Federated, saying it is never put on
//                           a compute and what each pod's service account needs instead. Only after a sync; a
//                           condition already written on the version of the object the cache still shows is not
//                           written again.
// ARM first and the AzureAssignedIdentities after, so an AAI says what Azure holds, never what podid hopes.
//
// Errors: none; failures are data (ComputeObservation::error, the steps' errors, Outcome).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/kube/condition_writer.h"
#include "controller/kube/event_correlator.h"
#include "controller/kube/event_recorder.h"
#include "controller/reconcile/identity_sync.h"
#include "controller/reconcile/work_queue.h"
#include "controller/round/round_memory.h"
#include "controller/state/assignment_states.h"
#include "controller/state/compute_slice.h"

namespace podid::controller {

// --- before the sync -----------------------------------------------------------------------------------------
// `immutable_client_ids` lower-case. The target's immutable_ids are the slice's (the identities whose client id
// is declared immutable); ARM's clientId per identity covers identities no AzureIdentity names (the sync
// matches those through immutable_client_ids).
std::optional<SyncTarget> plan_sync(const ComputeSlice& slice, const RoundMemory& memory,
                                    const std::vector<std::string>& immutable_client_ids);

// What logs, Events and metrics call the compute: its ARM id when the round syncs it, else the key, else
// "(no Azure VM)".
std::string compute_name(std::string_view key, const std::optional<SyncTarget>& target);

// --- the sync's result ----------------------------------------------------------------------------------------
struct SyncInterpretation {
  ComputeObservation observation;
  // memory.applied[key] becomes this (canonical keys) when set: the round converged to the desired set.
  std::optional<std::vector<std::string>> applied;
  // memory.ledger_computes[key]: remembered while podid's ledger holds identities there (so that a round still
  // removes them when the compute's last node goes), forgotten once it holds none and no node is on it.
  enum class LedgerCompute { kUnchanged, kRemember, kForget };
  LedgerCompute ledger_compute = LedgerCompute::kUnchanged;
  Outcome outcome;
  std::string_view result_label;                       // "ok", "partial", "throttled", "failed"
  std::optional<std::chrono::seconds> throttled_wait;  // ARM's Retry-After of a throttled round
};

SyncInterpretation interpret_sync(const SyncTarget& target, bool desired_here, const SyncResult& result,
                                  std::string_view compute_name);

// What users read in an Event or a condition about one identity ARM would not take.
std::string explain_refusal(const arm::ArmError& error, std::string_view compute_name);

// --- AzureAssignedIdentities ---------------------------------------------------------------------------------
struct AssignedIdentityStep {
  enum class Write {
    kNone,      // the state is already right: only the report below
    kCreate,    // POST the object build_assigned_identity makes, in `state`
    kReplace,   // GET, then PUT updated_object of it, in `state`
    kSetState,  // merge-patch status.status to `state`
    kRemove,    // DELETE, then finalize (assigned_identity_writer.h)
    kFinalize,  // marked for deletion already (or by `batch`): finalize only
  };
  Write write = Write::kNone;
  const PlanItem* item = nullptr;  // points into the slice's plan
  std::string state;               // kCreate, kReplace, kSetState
  // kFinalize: the DeleteBatch that marks it for deletion; when that request fails it is removed alone (kRemove).
  std::optional<std::size_t> batch;
  // Once the write succeeded (kNone: at once):
  bool assigned = false;    // the AAI became Assigned: "binding applied" counts it, its latency is measured
  std::string error;        // "binding apply error" names this (a Created AAI, why it is not Assigned)
  std::string binding_key;  // "ns/name" of the binding whose Event it counts in
  std::optional<kube::ObjectRef> binding;  // that binding; nullopt when the AAI names none (no Event)
};

// One deletecollection request: the AAIs in `ns` labelled with one of these pod uids.
struct DeleteBatch {
  std::string ns;
  std::vector<std::string> pod_uids;
};

struct AssignedIdentitySteps {
  std::vector<DeleteBatch> batches;  // made before the steps
  std::vector<AssignedIdentityStep> steps;
};

AssignedIdentitySteps plan_assigned_identity_steps(const ComputeSlice& slice, const ComputeObservation& observation);

// The object a kCreate step writes, or a kReplace step writes over `current` (built when written: a slice of
// 10,000 new pods must not hold 10,000 objects).
nlohmann::json assigned_identity_to_write(const AssignedIdentityStep& step, const nlohmann::json& current = nullptr);

// "ns/name" of an AzureAssignedIdentity (RoundMemory::first_needed's key).
std::string assigned_identity_key(const PlanItem& item);

// --- Events ----------------------------------------------------------------------------------------------------
struct BindingTally {
  std::optional<kube::ObjectRef> binding;  // nullopt: the AAI named no binding, nothing to put an Event on
  std::size_t applied = 0, removed = 0;
  std::vector<std::string> errors;  // each once
};
using BindingTallies = std::map<std::string, BindingTally, std::less<>>;  // by binding "ns/name"

// Counts a step whose write succeeded.
void tally(BindingTallies& tallies, const AssignedIdentityStep& step);

struct EventToPost {
  kube::ObjectRef object;
  kube::EventType type = kube::EventType::kNormal;
  std::string reason, message;
};

// --- conditions ------------------------------------------------------------------------------------------------
struct ConditionToWrite {
  kube::ConditionTarget target = kube::ConditionTarget::kAzureIdentity;
  std::shared_ptr<const nlohmann::json> object;  // the cached identity or binding (resourceVersion precondition)
  kube::Condition condition;
};

struct ConditionPlan {
  std::vector<ConditionToWrite> writes;
  // Per identity concerned ("ns/name"): RoundMemory::identity_errors after this round; empty: forget it.
  std::map<std::string, std::map<std::string, std::string>, std::less<>> identity_errors;
};

ConditionPlan plan_conditions(const ComputeSlice& slice, const ComputeObservation& observation,
                              const SyncResult& result, const RoundMemory& memory);

// RoundMemory::conditions_written's key and value for a condition written on `object`.
std::string condition_memory_key(kube::ConditionTarget target, const nlohmann::json& object);
RoundMemory::WrittenCondition written_condition(const nlohmann::json& object, const kube::Condition& condition);

}  // namespace podid::controller
