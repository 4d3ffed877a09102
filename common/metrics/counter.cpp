// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/counter.h"

namespace podid::metrics {

void Counter::Increment(double amount) {
  // Written so NaN fails the test too.
  if (!(amount >= 0.0)) {
    return;
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

ClientMetric Counter::Collect() const {
  ClientMetric metric;
  metric.counter.value = Value();
  return metric;
}

detail::Builder<Counter> BuildCounter() { return {}; }

}  // namespace podid::metrics
