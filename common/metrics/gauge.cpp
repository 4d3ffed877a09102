// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/gauge.h"

#include <chrono>

namespace podid::metrics {

void Gauge::SetToCurrentTime() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  Set(std::chrono::duration<double>(since_epoch).count());
}

ClientMetric Gauge::Collect() const {
  ClientMetric metric;
  metric.gauge.value = Value();
  return metric;
}

detail::Builder<Gauge> BuildGauge() { return {}; }

}  // namespace podid::metrics
