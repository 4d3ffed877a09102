// SPDX-License-Identifier: Apache-2.0
//
// The ARM half of a round (round/round.h): sync the user-assigned identities on one scale set or VM
// towards the desired set, touching only what podid added (ledger.h) and never an immutable identity.
//
//   1. ledger.load                      (fails -> kLedger; nothing read from ARM, nothing PATCHed)
//   2. GET the compute                  (404 -> kGone; provisioningState Deleting -> kDeleting, Updating or any
//                                        other non-terminal state -> kUpdating: no PATCH, nothing reported present)
//   3. compute_identity_delta           (no bodies -> done: a round with nothing to do is exactly one GET)
//   4. ledger.store(ledger + ids to add) BEFORE the first PATCH that adds them (fails -> kLedger, no PATCH)
//   5. PATCH each body in order. An error naming identities (LinkedAuthorizationFailed: our principal lacks
//      Managed Identity Operator on them; FailedIdentityOperation: they were deleted) sets those ids aside with
//      the error and goes back to 3 without them, from ARM's current model (one more GET only when the failed
//      PATCH left none), at most `max_set_aside_retries` times: one identity without its role does not hold up
//      the others. Any other failure ends the round: AuthorizationFailed on the compute, 404, 429 (kThrottled,
//      with retry_after), an asynchronous Failed/Canceled (OperationPreempted), transport.
//   6. If the round completed (kConverged / kPartial): the ledger becomes what it records that ARM now reports
//      present, i.e. (ledger + added-and-present) - removed - recorded-but-absent, stored only if it changed.
//      After a failure the ledger is left as recorded (a superset is safe: it can only make podid keep an
//      absent id on its list); the next completed round shrinks it.
//
// Immutable identities are given by resource id, or by client id: those are matched through the clientId ARM
// reports for each identity in the GET body, so an immutable client id protects whichever resource carries it.
// No metrics and no Kubernetes here (the caller owns both); one structured log line per round.
//
// The arguments are taken by reference and must outlive the returned awaitable (co_await it where they live).
//
// Errors: never thrown. Everything is in SyncResult: `status` says how the round ended and the other fields
// what was done and why.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/arm/arm_client.h"
#include "controller/arm/arm_errors.h"
#include "controller/arm/identity_delta.h"
#include "controller/arm/resource_id.h"
#include "controller/reconcile/ledger.h"

namespace podid::controller {

struct SyncTarget {
  arm::ResourceId compute;
  std::vector<std::string> desired;               // UAMI resource ids that must be on the compute
  std::vector<std::string> immutable_ids;         // UAMI resource ids never to remove
  std::vector<std::string> immutable_client_ids;  // client ids (GUIDs) whose identities are never removed
};

struct SyncOptions {
  // PATCHes retried without the identities an error named, per round. LinkedAuthorizationFailed names every
  // failing linked scope at once; FailedIdentityOperation names one deleted identity at a time.
  std::size_t max_set_aside_retries = 5;
  std::size_t max_entries_per_patch = arm::kMaxEntriesPerPatch;
};

enum class SyncStatus {
  kConverged,  // every change landed (or none was needed)
  kPartial,    // every change that could land landed; `set_aside` / `rejected` hold the rest
  kGone,       // the compute does not exist (404 on GET or PATCH)
  kDeleting,   // provisioningState Deleting: nothing PATCHed
  kUpdating,   // an operation is still running on it (provisioningState Updating...): come back when it ends
  kThrottled,  // 429: nothing more this round; retry_after says for how long ARM wants quiet
  kArmError,   // ARM refused or the operation failed (AuthorizationFailed, OperationPreempted, 5xx, ...)
  kTransport,  // no usable answer from ARM
  kLedger,     // the ledger could not be read or written
  kInvalid,    // ARM's identity block could not be understood, or an immutable id is malformed
};

std::string_view to_string(SyncStatus status);

struct SyncResult {
  SyncStatus status = SyncStatus::kConverged;
  // The user-assigned ids on the compute after the round, as ARM spells them; nullopt when unknown (no GET
  // answer, or the last PATCH failed in a way that may or may not have applied it).
  std::optional<std::vector<std::string>> identities;
  // Ids left out of this round, as desired spelled them (compare with arm::same_id), with ARM's reason.
  std::map<std::string, arm::ArmError> set_aside;
  // Desired ids that are not user-assigned identity resource ids: never sent.
  std::vector<std::string> rejected;
  // The ledger's (valid) ids as stored when the round ended; nullopt when it could not be read. The caller needs
  // it to know what podid may still remove, and must not read the ledger a second time for it.
  std::optional<std::vector<std::string>> ledger;
  std::vector<std::string> added;    // ids whose addition landed this round
  std::vector<std::string> removed;  // ids whose removal landed this round
  std::optional<std::chrono::seconds> retry_after;
  std::optional<arm::ArmError> error;  // the round-ending ARM error
  std::string detail;                  // transport, ledger or parse failure, for logs and events
  std::string request_id;              // of the round-ending ARM call
  unsigned gets = 0;
  unsigned patches = 0;
  unsigned arm_calls = 0;  // HTTP requests, polls included (ArmOutcome::calls)
  // The subscription's budget as the last answer told it, and whether the round-ending 429 was the
  // subscription's (ArmOutcome): the controller holds every compute of the subscription then.
  std::optional<long> remaining_reads, remaining_writes;
  bool subscription_throttled = false;

  bool completed() const { return status == SyncStatus::kConverged || status == SyncStatus::kPartial; }
};

boost::asio::awaitable<SyncResult> sync_compute_identities(arm::ArmClient& arm, Ledger& ledger,
                                                           const SyncTarget& target, const SyncOptions& options = {});

}  // namespace podid::controller
