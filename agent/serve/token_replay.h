// SPDX-License-Identifier: Apache-2.0
//
// The agent's hot path: a token answer the server gives again to the same request on the same connection
// (http::Replay, podid/http/server.h) while nothing it was decided from has changed.
//
// A served token answer depends on: the request's bytes and the connection's caller (the server compares the
// first, the second is the connection's own), the pods, the identity objects, the service accounts and the
// tokens cached (each store counts its changes: DecisionInputs::generation), and the wall-clock second
// (expires_in is counted from it). While all of these are unchanged, deciding again gives the same bytes, so
// the replay is that decision without its work: no parse, no lookup, no JSON. Each replayed answer is still
// counted and audited as its own decision (same fields, its own latency), so the audit keeps one line per
// request.
//
// Offered only for the plain case: a token served from the cache for a bound user-assigned identity or
// an exception pod's node identity, no wait. A replay lives at most until the end of its second: a token the
// cache would retire within that second (its minimum remaining lifetime reached) is given at most that long.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/cluster/pod_store.h"
#include "agent/cluster/service_account_store.h"
#include "agent/identity/identity_store.h"
#include "agent/imds/token_response.h"
#include "agent/serve/audit.h"
#include "agent/serve/token_metrics.h"
#include "podid/azure/token_cache.h"
#include "podid/clock.h"
#include "podid/http/server.h"

namespace podid::agent {

// What a token decision is made from, as one number that changes whenever any part of it may have.
struct DecisionInputs {
  const PodStore& pods;
  const IdentityStore& identities;
  const ServiceAccountStore* accounts;  // may be null
  const azure::TokenCache& cache;
  const WallClock& clock;

  // The sum of the parts' change counters: each only grows, so the sum changes when any part does.
  uint64_t generation() const {
    return pods.generation() + identities.generation() + (accounts ? accounts->generation() : 0) + cache.generation();
  }
  // The second a token answer's body counts from (imds::epoch_seconds, as token_response does).
  int64_t second() const { return imds::epoch_seconds(clock.now()); }
};

// The decision a replay repeats, owned (the pod may leave the store while the connection stays open: the
// replay then stops, but its fields must not dangle meanwhile).
struct RepeatedDecision {
  std::string ns, pod, pod_uid, client_id, resource, reason;
  uint64_t cgroup_id = 0;
  unsigned status = 200;
};

class TokenReplay final : public http::Replay {
 public:
  // `generation` and `answered_at`: the inputs' generation the decision was made from, and the `now` the answer's
  // lifetimes were counted from. It holds while the inputs give that generation in that second.
  // `decisions`: where each replayed decision is kept for `podid explain` (decision_log.h); null: nowhere.
  TokenReplay(DecisionInputs inputs, TokenMetrics& metrics, RepeatedDecision decision, uint64_t generation,
              std::chrono::system_clock::time_point answered_at, DecisionLog* decisions = nullptr);

  bool current() const override;
  void replayed(std::chrono::nanoseconds took) override;

 private:
  DecisionInputs inputs_;
  TokenMetrics& metrics_;
  RepeatedDecision decision_;
  RepeatedAudit audit_;
  uint64_t generation_;
  int64_t second_;
};

}  // namespace podid::agent
