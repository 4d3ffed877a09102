// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace podid::metrics {
namespace {

Histogram::BucketBoundaries checked(Histogram::BucketBoundaries bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i])) {
      throw std::invalid_argument("histogram bucket boundary is NaN");
    }
    // Equal neighbours would give two series with the same le label; +Inf before the end has the same effect.
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("histogram bucket boundaries must be strictly increasing");
    }
  }
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) {
    throw std::invalid_argument("histogram bucket boundary +Inf must be the last one");
  }
  return bounds;
}

}  // namespace

Histogram::Histogram(BucketBoundaries boundaries)
    : bounds_{checked(std::move(boundaries))}, counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // First bound >= value: buckets are "less than or equal". NaN lands in +Inf and makes the sum NaN, as in
  // client_golang; lower_bound alone would put it in the first bucket, since NaN compares false to everything.
  const auto bucket =
      std::isnan(value)
          ? bounds_.size()
          : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock{mutex_};
  ++counts_[bucket];
  sum_ += value;
}

ClientMetric Histogram::Collect() const {
  ClientMetric metric;
  auto& out = metric.histogram;
  out.bucket.reserve(counts_.size());
  std::lock_guard lock{mutex_};
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    const double bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    out.bucket.push_back({.cumulative_count = cumulative, .upper_bound = bound});
  }
  out.sample_count = cumulative;
  out.sample_sum = sum_;
  return metric;
}

detail::Builder<Histogram> BuildHistogram() { return {}; }

}  // namespace podid::metrics
