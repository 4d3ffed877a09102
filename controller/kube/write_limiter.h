// SPDX-License-Identifier: Apache-2.0
//
// The client-side limit on podid-controller's Kubernetes writes, as client-go's rate limiter has it: a token
// bucket of `burst` tokens refilled at `qps` a second, so that a mass pod creation cannot turn into a flood of
// writes to the API server. Implemented as a reservation (the generic cell rate algorithm): every write is
// given the moment it may go, in the order asked, and waits until then; nothing is refused. The Lease is not
// limited (its renewals must never queue behind AzureAssignedIdentities): the app gives the elector its own
// MeteredApi.
//
// Errors: none.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>

#include "podid/clock.h"
#include <prometheus/counter.h>
#include <prometheus/registry.h>

namespace podid::controller::kube {

class WriteLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // qps > 0, burst >= 1.
  WriteLimiter(double qps, std::uint32_t burst, const SteadyClock& clock, prometheus::Registry& registry);

  // Pure: when a write asked for at `now` may go (now, while the burst lasts), the bucket charged.
  TimePoint reserve(TimePoint now);
  // Waits until this write's reserved moment.
  boost::asio::awaitable<void> acquire();

 private:
  std::chrono::steady_clock::duration interval_;   // one token
  std::chrono::steady_clock::duration tolerance_;  // burst - 1 tokens
  TimePoint tat_{};                                // theoretical arrival time of the next write
  const SteadyClock& clock_;
  prometheus::Counter& waited_;
};

}  // namespace podid::controller::kube
