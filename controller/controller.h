// SPDX-License-Identifier: Apache-2.0
//
// podid-controller's loop, level-triggered as controller-runtime's are, and incremental:
//   informer caches (cluster/cluster_cache.h) -> each change updates the desired index and says which computes it
//   reached -> exactly those are queued (reconcile/work_queue.h: coalescing window, per-key backoff, Retry-After,
//   a hold per subscription) -> up to --max-parallel-computes keys worked on at once, never two for one key:
//   work_on(key) takes that compute's slice (state/compute_slice.h) and runs one round (round/round.h) if the key
//   still has work, and reports its outcome to the queue.
// A pod event costs what that pod touches, not the cluster. Rounds run only while this replica leads; a standby
// keeps its caches warm so that a new leader starts from a synced view, and queues every compute once.
//
// Every --drift-check-interval-s, a full pass: the desired state computed whole from the caches is compared with
// the incremental one (a difference is counted, logged, and the index rebuilt; the pass's cost is a metric), and
// every compute that should hold identities is queued for a drift check: one GET, and a PATCH only if
// something was removed out of band.
//
// ARM throttling: a 429 on a compute holds that key (Retry-After); a 429 of the subscription's budget, or a
// budget running low (x-ms-ratelimit-remaining-subscription-*), holds every compute of that subscription
// (reconcile/subscription_budget.h).
//
// Runs on one io_context thread; every member is touched from it only.
//
// Errors: none escape; rounds report through metrics, logs, Events and conditions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "controller/cluster/cluster_cache.h"
#include "controller/config.h"
#include "controller/metrics.h"
#include "controller/reconcile/subscription_budget.h"
#include "controller/reconcile/work_queue.h"
#include "controller/round/event_aggregator.h"
#include "controller/round/round.h"
#include "controller/round/round_memory.h"
#include "podid/clock.h"

namespace podid::controller {

class Controller {
 public:
  // `deps.clock` is the controller's clock too (queue times, latencies).
  Controller(boost::asio::io_context& io, const ControllerConfig& config, ClusterCache& cache, RoundDeps deps,
             ControllerMetrics& metrics);
  ~Controller();

  // Called by the cache on every change that reached something (wire ClusterCache's on_change here).
  void cache_changed(Reach reach);
  // Leadership: rounds start / stop. stop_leading lets rounds in flight finish their current request.
  void start_leading();
  void stop_leading();
  bool leading() const { return leading_; }

  // "" when ready: every informer has listed.
  std::string not_ready_reason() const;

 private:
  void synced();
  void queue(const std::set<std::string, std::less<>>& keys);
  void queue_everything(bool force);
  void wake();
  boost::asio::awaitable<void> drive();
  boost::asio::awaitable<void> work_on(std::string key);
  bool has_work(const ComputeSlice& slice) const;
  void hold_subscription(std::string_view key);
  void schedule_full_pass();
  void full_pass();
  void schedule_event_flush();
  void schedule_problem_report();
  void report_problems();

  boost::asio::io_context& io_;
  const ControllerConfig& config_;
  ClusterCache& cache_;
  RoundDeps deps_;
  ControllerMetrics& metrics_;
  WorkQueue queue_;
  SubscriptionBudget budget_;
  BindingEventAggregator events_;
  boost::asio::steady_timer drive_timer_;
  boost::asio::steady_timer full_pass_timer_;
  boost::asio::steady_timer event_timer_;
  boost::asio::steady_timer problem_timer_;
  bool problem_report_pending_ = false;
  bool synced_ = false;  // every informer has listed once
  bool leading_ = false;
  std::size_t in_flight_ = 0;
  RoundMemory memory_;                                // what rounds learned, across rounds
  std::set<std::string, std::less<>> problems_seen_;  // reported once each
  std::set<std::string, std::less<>> forced_;         // queued by the drift check or a new leader: run anyway
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> held_until_;  // by subscription
};

}  // namespace podid::controller
