// SPDX-License-Identifier: Apache-2.0
//
// A value that goes up and down (identities assigned, cache size). Lock-free like Counter.
#pragma once

#include <atomic>

#include "podid/metrics/builder.h"
#include "podid/metrics/metric_family.h"

namespace podid::metrics {

class Gauge {
 public:
  static constexpr MetricType metric_type = MetricType::Gauge;

  Gauge() = default;
  explicit Gauge(double value) : value_{value} {}
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Increment() { Increment(1.0); }
  void Increment(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Decrement() { Increment(-1.0); }
  void Decrement(double amount) { Increment(-amount); }
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }

  // Seconds since the Unix epoch, the unit Prometheus uses for *_timestamp_seconds gauges.
  void SetToCurrentTime();

  double Value() const { return value_.load(std::memory_order_relaxed); }

  ClientMetric Collect() const;

 private:
  std::atomic<double> value_{0.0};
};

detail::Builder<Gauge> BuildGauge();

}  // namespace podid::metrics
