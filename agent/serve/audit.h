// SPDX-License-Identifier: Apache-2.0
//
// One JSON line per token decision, for security teams: who asked (namespace, pod, cgroup id), for what
// (identity client id, resource), what the agent decided and why, how long it took and where the token came
// from; for a federated identity also the service account whose token was exchanged (`subject`, present only
// then). Written through podid::log (stderr, one write per line) with "audit": true, the same shape as the
// kernel's deny events, so one query finds both. The same call keeps the decision in the pod's DecisionLog
// ring (decision_log.h), which `podid explain` reads through the agent's node-local decisions listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/serve/decision_log.h"
#include "podid/log.h"

namespace podid::agent {

struct TokenDecision {
  std::string_view ns, pod;      // empty when the pod is unknown
  std::string_view pod_uid;      // of the pod owning the caller's cgroup; empty when none does
  uint64_t cgroup_id = 0;
  std::string_view client_id;    // of the identity served or asked for; empty when none
  std::string_view resource;
  std::string_view decision;     // "served", "refused", "not_found", "not_ready", "upstream_error", "bad_request"
  std::string_view reason;       // machine-readable detail: "cache", "no_binding", "source_ip_mismatch"...
  std::string_view source;       // "cache", "upstream", "" when no token was involved
  std::string_view subject;      // federated: the service account exchanged (system:serviceaccount:ns:sa)
  unsigned status = 0;           // HTTP status answered
  std::chrono::nanoseconds latency{0};
};

// Writes the audit line (when the log level lets it through) and, with `decisions`, keeps the record (always).
void audit_token_decision(const TokenDecision& d, DecisionLog* decisions = nullptr);

// The audit line of one decision given again and again (a replayed answer, token_replay.h): every field but the
// latency formatted once, so each line costs little more than its write. The line is the same as
// audit_token_decision writes for that decision and latency; with `decisions`, each is also kept there (its
// record made once too, so keeping it is a copy).
class RepeatedAudit {
 public:
  explicit RepeatedAudit(const TokenDecision& d, DecisionLog* decisions = nullptr);
  void write(std::chrono::nanoseconds latency) const;

 private:
  std::string fields_;  // every member up to "latency_us"
  log::Level level_;
  DecisionLog* decisions_;  // null: nothing kept (no log, or no pod UID)
  DecisionRecord record_{};
  std::string pod_uid_, ns_, pod_;
};

}  // namespace podid::agent
