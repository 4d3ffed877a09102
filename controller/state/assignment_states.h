// SPDX-License-Identifier: Apache-2.0
//
// The state each AzureAssignedIdentity (AAI) of one scale set or VM takes after a reconcile round of that
// compute, from what the round observed. Pure, no I/O: the caller writes the statuses, posts the Events and
// deletes the AAIs.
//
// Rules, for the plan items (assignment_plan.h) whose compute_key is the compute settled:
//   desired AAIs (create, update, keep):
//     - no ARM work (types 1 and 2): Assigned at once;
//     - compute "" (the node is no Azure VM / VMSS instance): Created, with the node's problem as the error;
//     - the round observed the compute: Assigned when the identity is on it (case-insensitive), otherwise
//       Created with the error: ARM's refusal of that id (set_aside), else the round's error, else "not on the
//       compute yet". An Assigned AAI whose identity is no longer there goes back to Created: the agent serves
//       tokens for Assigned AAIs only, and IMDS would refuse them anyway;
//     - the round observed nothing (throttled, transport failure): an Assigned or legacy (status-less) AAI
//       stays as it is; any other stays or becomes Created, with the round's error;
//   AAIs being removed: Unassigned, then deleted, as soon as nothing of podid's needs to happen in Azure for
//   them, i.e. when any of these holds:
//     - it stands for no user-assigned identity (types 1 and 2), or for no known compute (compute "");
//     - another desired AAI on the same compute stands for the same identity (it stays for that one);
//     - the identity is not `removable` (the controller never added it, or it is immutable: it is never removed);
//     - the round observed the compute without the identity.
//     Otherwise the AAI waits (it is not listed) and the next round retries the removal.
// Results keep the plan's order: create, update, keep, then remove, each by (namespace, name).
//
// Errors: none.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/state/assignment_plan.h"

namespace podid::controller {

// What one reconcile round established about one compute.
struct ComputeObservation {
  // The round read the compute, so `present` is what it holds now (a compute ARM reports gone: true, empty).
  // False when the round learned nothing (throttled, transport failure, unreadable ledger).
  bool observed = false;
  std::vector<std::string> present;  // user-assigned identity ids on the compute now, any case
  // Ids ARM refused this round (the reconciler set them aside), any case -> the message for users.
  std::map<std::string, std::string, std::less<>> set_aside;
  // Ids the controller may remove from this compute: its ledger (after the round) minus the immutable ids.
  std::vector<std::string> removable;
  std::string error;  // why the round fell short, "" when it did not
};

struct StateChange {
  enum class Kind {
    kAssigned,  // status.status Assigned
    kCreated,   // status.status Created; `error` says why it is not Assigned (an Event on the binding)
    kRemove,    // status.status Unassigned, then DELETE and drop the finalizer
  };
  Kind kind = Kind::kCreated;
  const PlanItem* item = nullptr;  // points into the plan
  bool write_status = false;       // the AAI's status is not yet the one `kind` names
  std::string error;               // kCreated only
};

// The plan must outlive the result.
std::vector<StateChange> settle_states(const AssignmentPlan& plan, std::string_view compute_key,
                                       const ComputeObservation& observation);

}  // namespace podid::controller
