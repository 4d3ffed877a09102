// SPDX-License-Identifier: Apache-2.0
//
// What a round for one compute key means, decided without I/O. A round (round.h) runs these in order; the
// applier (round_applier.h) makes the writes they decide, and nothing else decides anything:
//
//   plan_sync               the view and memory -> the ARM sync to run: the compute's desired identities, or
//                           none for a compute no node is on any more but whose ledger holds identities (podid
//                           removes what it added); nullopt for key "" (nodes that are no Azure VM) and for a
//                           compute neither desired nor in the ledger;
//   sync_compute_identities (reconcile/identity_sync.h): the ARM I/O;
//   interpret_sync          the sync's result -> what the round observed on the compute (the input of
//                           assignment_states.h), the memory updates, the work queue's outcome, metric facts;
//   plan_assigned_identity_steps
//                           the observation and the view's plan -> one step per AzureAssignedIdentity to write or
//                           report (created, replaced, given its state, removed), each saying what its success
//                           counts for: its binding's Event, the assignment latency;
//   binding_events          what the steps that succeeded tallied per binding -> the Events: one per binding and
//                           kind per round ("binding applied" / "binding removed" / "binding apply error", the
//                           predecessor's reasons), not one per pod;
//   plan_conditions         the observation and memory -> the "Assigned" condition of every identity (and its
//                           bindings) this compute's pods need, over every compute it is on: False with ARM's
//                           reason, the missing role, scope, principal and the command that fixes it; True once
//                           it lands. Only after a sync.
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
#include "controller/state/cluster_view.h"

namespace podid::controller {

// --- before the sync -----------------------------------------------------------------------------------------
// `immutable_client_ids` lower-case. The target's immutable_ids are those of the identities whose client id is
// declared immutable (ARM's clientId per identity covers identities no AzureIdentity names; the sync matches
// those through immutable_client_ids).
std::optional<SyncTarget> plan_sync(const ClusterView& view, std::string_view key, const RoundMemory& memory,
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
    kReplace,   // PUT the plan's updated object, in `state`
    kSetState,  // merge-patch status.status to `state`
    kRemove,    // Unassigned, DELETE, drop the finalizer (assigned_identity_writer.h)
  };
  Write write = Write::kNone;
  const PlanItem* item = nullptr;  // points into the view's plan
  std::string state;               // kCreate, kReplace, kSetState
  // Once the write succeeded (kNone: at once):
  bool assigned = false;    // the AAI became Assigned: "binding applied" counts it, its latency is measured
  std::string error;        // "binding apply error" names this (a Created AAI, why it is not Assigned)
  std::string binding_key;  // "ns/name" of the binding whose Event it counts in
  std::optional<kube::ObjectRef> binding;  // that binding; nullopt when the AAI names none (no Event)
};

std::vector<AssignedIdentityStep> plan_assigned_identity_steps(const ClusterView& view, std::string_view key,
                                                               const ComputeObservation& observation);

// The object a kCreate or kReplace step writes (built when written: a view of 10,000 new pods must not hold
// 10,000 objects nobody may write in that view's lifetime).
nlohmann::json assigned_identity_to_write(const AssignedIdentityStep& step);

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

std::vector<EventToPost> binding_events(const BindingTallies& tallies, std::string_view compute_name);

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

ConditionPlan plan_conditions(const ClusterView& view, std::string_view key, const ComputeObservation& observation,
                              const SyncResult& result, const RoundMemory& memory);

}  // namespace podid::controller
