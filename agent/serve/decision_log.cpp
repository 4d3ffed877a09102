// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/decision_log.h"

#include <algorithm>

#include "agent/serve/audit.h"

namespace podid::agent {

DecisionLog::DecisionLog(size_t per_pod, size_t max_pods)
    : per_pod_(std::max<size_t>(per_pod, 1)), max_pods_(std::max<size_t>(max_pods, 1)) {
  pods_.reserve(max_pods_);
}

DecisionLog::Ring& DecisionLog::ring_for(std::string_view pod_uid) {
  if (auto it = pods_.find(pod_uid); it != pods_.end()) return it->second;
  if (pods_.size() >= max_pods_) {
    // Rare (a pod new to the log on a node that has had max_pods pods decide): a scan is cheaper than keeping
    // an order on every decision.
    auto oldest = std::min_element(pods_.begin(), pods_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    pods_.erase(oldest);
    ++pods_forgotten_;
  }
  Ring ring;
  ring.slots = std::make_unique<DecisionRecord[]>(per_pod_);
  return pods_.emplace(std::string(pod_uid), std::move(ring)).first->second;
}

uint32_t DecisionLog::micros(std::chrono::nanoseconds latency) {
  return static_cast<uint32_t>(
      std::clamp<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count(), 0, UINT32_MAX));
}

void DecisionLog::fill(DecisionRecord& r, const TokenDecision& d, std::chrono::system_clock::time_point at) {
  r.at = at;
  r.cgroup_id = d.cgroup_id;
  r.status = d.status;
  r.latency_us = micros(d.latency);
  r.client_id.assign(d.client_id);
  r.resource.assign(d.resource);
  r.decision.assign(d.decision);
  r.reason.assign(d.reason);
  r.source.assign(d.source);
  r.subject.assign(d.subject);
}

DecisionRecord DecisionLog::make(const TokenDecision& d, std::chrono::system_clock::time_point at) {
  DecisionRecord r;
  fill(r, d, at);
  return r;
}

void DecisionLog::record(const TokenDecision& d, std::chrono::system_clock::time_point at) {
  if (d.pod_uid.empty()) return;
  fill(next_slot(d.pod_uid, d.ns, d.pod), d, at);  // in place: no record built and copied
}

void DecisionLog::keep(std::string_view pod_uid, std::string_view ns, std::string_view pod, const DecisionRecord& r) {
  if (pod_uid.empty()) return;
  next_slot(pod_uid, ns, pod) = r;
}

DecisionRecord& DecisionLog::next_slot(std::string_view pod_uid, std::string_view ns, std::string_view pod) {
  Ring& ring = ring_for(pod_uid);
  // The names the decision was made with; unknown (a bad request answered before the pod was looked up)
  // leaves those of an earlier decision.
  if (!ns.empty() && ring.ns != ns) ring.ns.assign(ns);
  if (!pod.empty() && ring.name != pod) ring.name.assign(pod);
  ring.last_used = ++sequence_;
  return ring.slots[ring.recorded++ % per_pod_];
}

std::optional<PodDecisions> DecisionLog::of(std::string_view pod_uid) const {
  auto it = pods_.find(pod_uid);
  if (it == pods_.end()) return std::nullopt;
  const Ring& ring = it->second;
  PodDecisions out{.ns = ring.ns, .name = ring.name, .recorded = ring.recorded, .newest_last = {}};
  const uint64_t kept = std::min<uint64_t>(ring.recorded, per_pod_);
  out.newest_last.reserve(kept);
  for (uint64_t i = ring.recorded - kept; i < ring.recorded; ++i) out.newest_last.push_back(ring.slots[i % per_pod_]);
  return out;
}

}  // namespace podid::agent
