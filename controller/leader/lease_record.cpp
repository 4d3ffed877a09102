// SPDX-License-Identifier: Apache-2.0
#include "controller/leader/lease_record.h"

#include "controller/kube/kube_time.h"

namespace podid::controller::leader {
using nlohmann::json;

namespace {

Error bad(std::string what) { return {std::make_error_code(std::errc::bad_message), std::move(what)}; }

}  // namespace

Result<LeaseRecord> lease_record_from(const json& lease) {
  LeaseRecord r;
  if (!lease.is_object()) return bad("Lease is not a JSON object");
  auto spec = lease.find("spec");
  if (spec == lease.end() || spec->is_null()) return r;
  if (!spec->is_object()) return bad("Lease spec is not an object");
  auto text = [&](const char* key, std::string& out) -> bool {
    auto it = spec->find(key);
    if (it == spec->end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto number = [&](const char* key, int& out) -> bool {
    auto it = spec->find(key);
    if (it == spec->end() || it->is_null()) return true;
    if (!it->is_number_integer()) return false;
    out = it->get<int>();
    return true;
  };
  if (!text("holderIdentity", r.holder_identity)) return bad("Lease spec.holderIdentity is not a string");
  if (!text("acquireTime", r.acquire_time)) return bad("Lease spec.acquireTime is not a string");
  if (!text("renewTime", r.renew_time)) return bad("Lease spec.renewTime is not a string");
  if (!number("leaseDurationSeconds", r.lease_duration_seconds)) {
    return bad("Lease spec.leaseDurationSeconds is not an integer");
  }
  if (!number("leaseTransitions", r.lease_transitions)) return bad("Lease spec.leaseTransitions is not an integer");
  return r;
}

json lease_spec(const LeaseRecord& r) {
  return {{"holderIdentity", r.holder_identity},
          {"leaseDurationSeconds", r.lease_duration_seconds},
          {"acquireTime", r.acquire_time},
          {"renewTime", r.renew_time},
          {"leaseTransitions", r.lease_transitions}};
}

LeaseStep next_lease_step(const std::optional<LeaseRecord>& current, const LeaseObservation& observed,
                          std::string_view identity, std::chrono::seconds lease_duration,
                          std::chrono::steady_clock::time_point steady_now,
                          std::chrono::system_clock::time_point wall_now) {
  LeaseStep step;
  step.observation = observed;
  const std::string now = kube::format_micro_time(wall_now);
  step.desired.holder_identity = std::string(identity);
  step.desired.lease_duration_seconds = static_cast<int>(lease_duration.count());
  step.desired.renew_time = now;
  if (!current) {
    step.action = LeaseAction::kCreate;
    step.desired.acquire_time = now;
    return step;
  }
  // The clock of expiry restarts whenever the record changes, however little: a holder that renews is alive.
  if (!observed.record || *observed.record != *current) step.observation = {current, steady_now};

  const bool ours = current->holder_identity == identity;
  const bool held = !current->holder_identity.empty();
  const auto expires = step.observation.at + std::chrono::seconds(current->lease_duration_seconds);
  if (held && !ours && expires > steady_now) {
    step.action = LeaseAction::kWait;
    return step;
  }
  step.action = LeaseAction::kUpdate;
  if (ours) {
    step.desired.acquire_time = current->acquire_time;
    step.desired.lease_transitions = current->lease_transitions;
  } else {
    step.desired.acquire_time = now;
    step.desired.lease_transitions = current->lease_transitions + 1;
  }
  return step;
}

LeaseRecord released_record(const LeaseRecord& held, std::chrono::system_clock::time_point wall_now) {
  const std::string now = kube::format_micro_time(wall_now);
  return LeaseRecord{.holder_identity = "",
                     .lease_duration_seconds = 1,
                     .acquire_time = now,
                     .renew_time = now,
                     .lease_transitions = held.lease_transitions};
}

}  // namespace podid::controller::leader
