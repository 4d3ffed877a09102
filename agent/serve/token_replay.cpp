// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_replay.h"

namespace podid::agent {

TokenReplay::TokenReplay(DecisionInputs inputs, TokenMetrics& metrics, RepeatedDecision decision,
                         uint64_t generation, std::chrono::system_clock::time_point answered_at,
                         DecisionLog* decisions)
    : inputs_(inputs),
      metrics_(metrics),
      decision_(std::move(decision)),
      audit_(TokenDecision{.ns = decision_.ns, .pod = decision_.pod, .pod_uid = decision_.pod_uid,
                           .cgroup_id = decision_.cgroup_id, .client_id = decision_.client_id,
                           .resource = decision_.resource, .decision = "served", .reason = decision_.reason,
                           .source = "cache", .status = decision_.status},
             decisions),
      generation_(generation),
      second_(imds::epoch_seconds(answered_at)) {}

bool TokenReplay::current() const { return inputs_.generation() == generation_ && inputs_.second() == second_; }

void TokenReplay::replayed(std::chrono::nanoseconds took) {
  const RepeatedDecision& d = decision_;
  metrics_.token_request({.ns = d.ns, .pod = d.pod, .pod_uid = d.pod_uid, .identity = d.client_id,
                          .resource = d.resource, .result = "served", .source = "cache"},
                         took, d.status);
  metrics_.replayed();
  audit_.write(took);
}

}  // namespace podid::agent
