// SPDX-License-Identifier: Apache-2.0
//
// Anything that can be turned into a scrape snapshot: a Family, or a whole Registry. An HTTP /metrics
// handler takes Collectables so it can serve several registries without knowing what is inside them.
#pragma once

#include <vector>

#include "podid/metrics/metric_family.h"

namespace podid::metrics {

class Collectable {
 public:
  virtual ~Collectable() = default;

  // A consistent-enough copy of the current values. Thread-safe; never throws on valid state.
  virtual std::vector<MetricFamily> Collect() const = 0;
};

}  // namespace podid::metrics
