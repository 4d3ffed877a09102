// SPDX-License-Identifier: Apache-2.0
//
// A monotonically increasing value (requests served, tokens denied). Lock-free: one atomic double, so the
// agent's request paths never wait on a scrape.
#pragma once

#include <atomic>

#include "podid/metrics/builder.h"
#include "podid/metrics/metric_family.h"

namespace podid::metrics {

class Counter {
 public:
  static constexpr MetricType metric_type = MetricType::Counter;

  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment() { Increment(1.0); }

  // A negative or NaN amount is ignored rather than thrown on: a counter that went down would read as a
  // process restart to rate(), and this is a hot path where podid does not throw. Same as prometheus-cpp.
  void Increment(double amount);

  double Value() const { return value_.load(std::memory_order_relaxed); }

  // A snapshot carrying only the value; the family fills in the labels.
  ClientMetric Collect() const;

 private:
  std::atomic<double> value_{0.0};
};

// Start a Family<Counter>; see builder.h.
detail::Builder<Counter> BuildCounter();

}  // namespace podid::metrics
