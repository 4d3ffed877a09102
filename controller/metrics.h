// SPDX-License-Identifier: Apache-2.0
//
// The controller's own metrics (podid_controller_*): the queue, reconcile rounds, assignments and the caches.
// ARM calls are counted by the ARM client and Kubernetes writes by the writers, on the same registry.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podid/k8s/reflector.h"
#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"
#include "podid/metrics/registry.h"

namespace podid::controller {

class ControllerMetrics {
 public:
  ControllerMetrics();

  void set_queue_depth(std::size_t queued, std::size_t processing);
  // One round for one scale set or VM; result: "ok", "throttled", "failed", "partial" (some identities set aside).
  void reconciled(std::string_view result, std::chrono::steady_clock::duration took);
  void throttled_wait(std::chrono::seconds wait);
  void assigned(std::chrono::steady_clock::duration since_bound);
  void set_identities(const std::string& compute, std::size_t count);
  void problem(std::string_view reason);
  void full_pass(std::chrono::steady_clock::duration took);
  void full_pass_mismatch();
  void set_arm_budget(const std::string& subscription, std::string_view kind, long remaining);
  void subscription_held(const std::string& subscription, std::chrono::steady_clock::duration hold);
  void track_caches(std::function<std::vector<std::pair<std::string, k8s::ReflectorStats>>()> stats);

  std::string serialize();
  metrics::Registry& registry() { return registry_; }

 private:
  metrics::Registry registry_;
  metrics::Gauge& queue_depth_;
  metrics::Gauge& queue_processing_;
  metrics::Family<metrics::Counter>& reconciles_;
  metrics::Family<metrics::Histogram>& reconcile_duration_;
  metrics::Counter& throttle_wait_;
  metrics::Family<metrics::Histogram>& assignment_latency_;
  metrics::Family<metrics::Gauge>& identities_;
  metrics::Family<metrics::Counter>& problems_;
  metrics::Gauge& full_pass_seconds_;
  metrics::Counter& full_pass_mismatches_;
  metrics::Family<metrics::Gauge>& arm_budget_;
  metrics::Family<metrics::Counter>& subscription_hold_;
  metrics::Family<metrics::Gauge>& cache_synced_;
  metrics::Family<metrics::Gauge>& cache_connected_;
  std::function<std::vector<std::pair<std::string, k8s::ReflectorStats>>()> cache_stats_;
};

}  // namespace podid::controller
