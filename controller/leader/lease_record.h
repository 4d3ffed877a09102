// SPDX-License-Identifier: Apache-2.0
//
// The leader-election record in a coordination.k8s.io/v1 Lease, and the decision client-go's LeaderElector
// takes on each try (tryAcquireOrRenew), as a pure function so the expiry rules are tested with made-up times.
//
// Expiry is judged by *our* observation, never by comparing clocks: a record is expired when it has not
// changed for leaseDurationSeconds of our monotonic time since we first saw it in its current form. The
// holder's renewTime is only written, for humans; two nodes' wall clocks may disagree by more than a lease.
//
// Errors: lease_record_from returns Result with std::errc::bad_message for a spec field of the wrong type.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "podid/result.h"

namespace podid::controller::leader {

struct LeaseRecord {
  std::string holder_identity;  // "" = released
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime, as written
  std::string renew_time;    // MicroTime, as written
  int lease_transitions = 0;
  bool operator==(const LeaseRecord&) const = default;
};

// spec of a Lease object; absent fields are empty / 0.
Result<LeaseRecord> lease_record_from(const nlohmann::json& lease);
nlohmann::json lease_spec(const LeaseRecord& record);

// What this candidate last saw, and when (monotonic): the base of the expiry judgement.
struct LeaseObservation {
  std::optional<LeaseRecord> record;
  std::chrono::steady_clock::time_point at{};
};

enum class LeaseAction {
  kCreate,  // no Lease: create it holding it
  kUpdate,  // take over (released or expired) or renew ours: PUT `desired` with the resourceVersion read
  kWait,    // another holder whose lease has not expired by our observation
};

struct LeaseStep {
  LeaseAction action = LeaseAction::kWait;
  LeaseRecord desired;           // for kCreate / kUpdate
  LeaseObservation observation;  // `observed`, updated when `current` differs from what was seen before
};

// client-go's rules: absent -> create (transitions 0); held by another and unexpired -> wait; ours -> renew
// (acquireTime and transitions kept); released or expired -> acquire (acquireTime now, transitions + 1).
LeaseStep next_lease_step(const std::optional<LeaseRecord>& current, const LeaseObservation& observed,
                          std::string_view identity, std::chrono::seconds lease_duration,
                          std::chrono::steady_clock::time_point steady_now,
                          std::chrono::system_clock::time_point wall_now);

// What a leader writes when it stops gracefully: no holder and a 1 s lease, so another replica takes over on
// its next try instead of waiting out the lease (client-go's ReleaseOnCancel).
LeaseRecord released_record(const LeaseRecord& held, std::chrono::system_clock::time_point wall_now);

}  // namespace podid::controller::leader
