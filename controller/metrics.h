// SPDX-License-Identifier: Apache-2.0
//
// The controller's own metrics (podid_controller_*): the queue, reconcile rounds, assignments and the caches.
// ARM calls are counted by the ARM client and Kubernetes writes by the writers, on the same registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podid/k8s/reflector.h"
#include "podid/scraped_registry.h"

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
  // Reads the informers' health at every scrape.
  void track_caches(std::function<std::vector<std::pair<std::string, k8s::ReflectorStats>>()> stats);

  // The Prometheus text exposition of everything on the registry (the ARM client's, the writers' and the
  // leader elector's metrics included).
  std::string serialize() const { return registry_.serialize(); }
  ScrapedRegistry& registry() { return registry_; }

 private:
  ScrapedRegistry registry_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& queue_processing_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Histogram>& reconcile_duration_;
  prometheus::Counter& throttle_wait_;
  prometheus::Family<prometheus::Histogram>& assignment_latency_;
  prometheus::Family<prometheus::Gauge>& identities_;
  prometheus::Family<prometheus::Counter>& problems_;
  prometheus::Family<prometheus::Gauge>& cache_synced_;
  prometheus::Family<prometheus::Gauge>& cache_connected_;
};

}  // namespace podid::controller
