// SPDX-License-Identifier: Apache-2.0
//
// podid-controller's loop, level-triggered as controller-runtime's are:
//   informer caches (cluster_cache.h) -> on any change, after a short settle (50 ms), one view
//   (state/cluster_view.h: desired state and the AzureAssignedIdentity plan) -> every scale set or VM whose
//   needed identities differ from what its last round applied, or that has AzureAssignedIdentities to create,
//   update, settle or remove, is queued (work_queue.h: coalescing window, per-key backoff, Retry-After) ->
//   up to --max-parallel-computes keys worked on at once, never two for one key: work_on(key) runs one round
//   (round/round.h) if the key still has work, and reports its outcome to the queue.
// Rounds run only while this replica leads; a standby keeps its caches warm so that a new leader starts from a
// synced view. A drift check queues every compute that should hold identities every --drift-check-interval-s:
// its round is one GET, and a PATCH only if something was removed out of band.
//
// Runs on one io_context thread; every member is touched from it only.
//
// Errors: none escape; rounds report through metrics, logs, Events and conditions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "controller/cluster/cluster_cache.h"
#include "controller/config.h"
#include "controller/metrics.h"
#include "controller/reconcile/work_queue.h"
#include "controller/round/round.h"
#include "controller/round/round_memory.h"
#include "controller/state/cluster_view.h"
#include "podid/clock.h"

namespace podid::controller {

class Controller {
 public:
  // `deps.clock` is the controller's clock too (queue times, latencies).
  Controller(boost::asio::io_context& io, const ControllerConfig& config, ClusterCache& cache, RoundDeps deps,
             ControllerMetrics& metrics);
  ~Controller();

  // Called by the cache on every change (wire ClusterCache's on_change here).
  void cache_changed();
  // Leadership: rounds start / stop. stop_leading lets rounds in flight finish their current request.
  void start_leading();
  void stop_leading();
  bool leading() const { return leading_; }

  // "" when ready: every informer has listed.
  std::string not_ready_reason() const;

 private:
  void schedule_recompute();
  void recompute();
  void queue_changed_computes(const ClusterView& view);
  void queue_all(const ClusterView& view);
  void wake();
  boost::asio::awaitable<void> drive();
  boost::asio::awaitable<void> work_on(std::string key);
  bool has_work(const std::string& key) const;
  void schedule_drift_check();
  void report_problems(const ClusterView& view);

  boost::asio::io_context& io_;
  const ControllerConfig& config_;
  ClusterCache& cache_;
  RoundDeps deps_;
  ControllerMetrics& metrics_;
  WorkQueue queue_;
  std::shared_ptr<const ClusterView> view_;
  boost::asio::steady_timer recompute_timer_;
  boost::asio::steady_timer drive_timer_;
  boost::asio::steady_timer drift_timer_;
  bool recompute_pending_ = false;
  std::chrono::steady_clock::duration last_recompute_{};  // how long the last view took to build
  bool leading_ = false;
  std::size_t in_flight_ = 0;
  RoundMemory memory_;                          // what rounds learned, across rounds
  std::set<std::string, std::less<>> problems_seen_;  // reported once each
  std::set<std::string, std::less<>> forced_;         // queued by the drift check or a new leader: run anyway
};

}  // namespace podid::controller
