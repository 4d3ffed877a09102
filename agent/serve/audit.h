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

class DecisionLog;

// Writes the audit line (when the log level lets it through) and, with `decisions`, keeps the record (always).
void audit_token_decision(const TokenDecision& d, DecisionLog* decisions = nullptr);

}  // namespace podid::agent
