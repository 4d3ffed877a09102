// SPDX-License-Identifier: Apache-2.0
//
// Observations counted into fixed buckets (token fetch latency, ARM call duration), plus their sum and count.
//
// Unlike Counter and Gauge this takes a mutex per Observe: buckets, sum and count must be read together, or a
// scrape could show a _count that disagrees with the +Inf bucket. Observations come from request completions,
// not per-packet paths, so the lock is uncontended in practice.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "podid/metrics/builder.h"
#include "podid/metrics/metric_family.h"

namespace podid::metrics {

class Histogram {
 public:
  static constexpr MetricType metric_type = MetricType::Histogram;

  // Upper bounds, inclusive (a value equal to a bound lands in that bucket). The +Inf bucket is implicit.
  using BucketBoundaries = std::vector<double>;

  // Throws std::invalid_argument unless the bounds are strictly increasing and none is NaN. A trailing +Inf is
  // accepted and dropped, since the +Inf bucket always exists.
  explicit Histogram(BucketBoundaries boundaries);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  // Cumulative buckets ending with +Inf, sum and count, all taken under one lock.
  ClientMetric Collect() const;

 private:
  const BucketBoundaries bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // guarded by mutex_; per bucket, not cumulative; last one is +Inf
  double sum_ = 0.0;                   // guarded by mutex_
};

// Boundaries go to Family<Histogram>::Add: family.Add(labels, Histogram::BucketBoundaries{0.1, 1, 10}).
detail::Builder<Histogram> BuildHistogram();

}  // namespace podid::metrics
