// SPDX-License-Identifier: Apache-2.0
//
// Leader election for podid-controller replicas on a coordination.k8s.io/v1 Lease, with client-go's
// semantics (leaderelection.LeaderElector + LeaseLock), so only one replica PATCHes scale sets at a time:
//
//   - try every retry period (lease_duration / 4; candidates add up to 120 % jitter, as client-go does, so
//     replicas started together do not retry in lock-step);
//   - acquire when the Lease is absent, released, or expired by our observation (lease_record.h);
//   - optimistic concurrency on resourceVersion: a 409 means another replica won the race;
//   - a leader that has not renewed within the renew deadline (lease_duration / 2) stops leading, before its
//     lease can expire and another replica can start: each try is cut off at that deadline, so a hung API
//     server cannot hold a leader in place;
//   - a leader that sees another holder in the Lease stops at once;
//   - stop() releases a held Lease (holder "", 1 s) so the next replica takes over on its next try.
//
// After it stops leading, the elector is a candidate again; a controller that cannot cleanly hand its work
// back may instead exit from on_stopped_leading (the predecessor exited).
//
// Runs on the executor it was given; callbacks run there. The ApiClient, MeteredApi and Registry must outlive
// the executor's run (a try cut off at its deadline finishes in the background).
//
// Metrics: podid_controller_is_leader (gauge, 1 while leading), podid_controller_leader_transitions_total
// (times this replica started leading), plus podid_controller_kube_requests_total{resource="leases"}.
//
// Errors: none escape. A failed try is logged once per change of state and retried.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <prometheus/registry.h>
#include <string>

#include "controller/kube/metered_api.h"
#include "podid/clock.h"

namespace podid::controller::leader {

struct LeaseElectorOptions {
  std::string ns;        // the Lease's namespace (the controller's)
  std::string name;      // e.g. "podid-controller"
  std::string identity;  // holderIdentity: unique per replica; default_identity() when empty
  std::chrono::milliseconds lease_duration{15000};  // written rounded up to whole seconds
  const WallClock* clock = nullptr;                 // acquireTime / renewTime; null: the system clock

  std::chrono::milliseconds retry_period() const { return lease_duration / 4; }
  std::chrono::milliseconds renew_deadline() const { return lease_duration / 2; }
};

struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
};

// "<hostname>_<16 random hex>", as client-go's examples build it (the pod name is the hostname).
std::string default_identity();

class LeaseElector {
 public:
  LeaseElector(boost::asio::any_io_executor executor, kube::MeteredApi& api, LeaseElectorOptions options,
               LeaderCallbacks callbacks, prometheus::Registry& registry);
  // Without stop(): no release and no more callbacks; the Lease expires as after a crash.
  ~LeaseElector();
  LeaseElector(const LeaseElector&) = delete;
  LeaseElector& operator=(const LeaseElector&) = delete;

  void start();
  // Ends the loop; a leader releases the Lease and gets on_stopped_leading first. Safe to call twice, and
  // before start() (which is then refused). Call on the elector's executor.
  boost::asio::awaitable<void> stop();

  bool is_leader() const;
  const std::string& identity() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace podid::controller::leader
