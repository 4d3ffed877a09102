// SPDX-License-Identifier: Apache-2.0
#include "controller/metrics.h"

namespace podid::controller {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// A round is one GET, maybe PATCHes and a long-running operation polled every few seconds.
const prometheus::Histogram::BucketBoundaries kRoundBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
// From a pod bound to its AzureAssignedIdentity Assigned: the coalescing window plus the round.
const prometheus::Histogram::BucketBoundaries kAssignBuckets = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600};

}  // namespace

ControllerMetrics::ControllerMetrics()
    : queue_depth_(BuildGauge().Name("podid_controller_queue_depth").Help("Scale sets and VMs waiting for a reconcile round.").Register(registry_).Add({})),
      queue_processing_(BuildGauge().Name("podid_controller_queue_processing").Help("Scale sets and VMs being reconciled now.").Register(registry_).Add({})),
      reconciles_(BuildCounter().Name("podid_controller_reconciles_total").Help("Reconcile rounds by result (ok, partial, throttled, failed).").Register(registry_)),
      reconcile_duration_(BuildHistogram().Name("podid_controller_reconcile_duration_seconds").Help("Duration of one reconcile round of one scale set or VM.").Register(registry_)),
      throttle_wait_(BuildCounter().Name("podid_controller_arm_throttle_wait_seconds_total").Help("Seconds ARM asked the controller to wait (Retry-After on 429), summed over scale sets.").Register(registry_).Add({})),
      assignment_latency_(BuildHistogram().Name("podid_controller_assignment_latency_seconds").Help("From a pod's identity becoming needed to its AzureAssignedIdentity Assigned.").Register(registry_)),
      identities_(BuildGauge().Name("podid_controller_identities").Help("User-assigned identities podid needs on each scale set or VM.").Register(registry_)),
      problems_(BuildCounter().Name("podid_controller_problems_total").Help("Objects the controller could not use, by reason (IdentityNotFound, InvalidProviderID, ...).").Register(registry_)),
      cache_synced_(BuildGauge().Name("podid_controller_cache_synced").Help("1 once the informer of this resource has listed.").Register(registry_)),
      cache_connected_(BuildGauge().Name("podid_controller_cache_connected").Help("1 while the list/watch of this resource is healthy.").Register(registry_)) {}

void ControllerMetrics::set_queue_depth(std::size_t queued, std::size_t processing) {
  queue_depth_.Set(static_cast<double>(queued));
  queue_processing_.Set(static_cast<double>(processing));
}

void ControllerMetrics::reconciled(std::string_view result, std::chrono::steady_clock::duration took) {
  reconciles_.Add({{"result", std::string(result)}}).Increment();
  reconcile_duration_.Add({}, kRoundBuckets).Observe(std::chrono::duration<double>(took).count());
}

void ControllerMetrics::throttled_wait(std::chrono::seconds wait) { throttle_wait_.Increment(static_cast<double>(wait.count())); }

void ControllerMetrics::assigned(std::chrono::steady_clock::duration since_bound) {
  assignment_latency_.Add({}, kAssignBuckets).Observe(std::chrono::duration<double>(since_bound).count());
}

void ControllerMetrics::set_identities(const std::string& compute, std::size_t count) {
  identities_.Add({{"compute", compute}}).Set(static_cast<double>(count));
}

void ControllerMetrics::problem(std::string_view reason) { problems_.Add({{"reason", std::string(reason)}}).Increment(); }

void ControllerMetrics::track_caches(std::function<std::vector<std::pair<std::string, k8s::ReflectorStats>>()> stats) {
  registry_.on_scrape([this, stats = std::move(stats)] {
    for (const auto& [name, s] : stats()) {
      cache_synced_.Add({{"resource", name}}).Set(s.synced ? 1 : 0);
      cache_connected_.Add({{"resource", name}}).Set(s.connected ? 1 : 0);
    }
  });
}

}  // namespace podid::controller
