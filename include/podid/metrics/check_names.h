// SPDX-License-Identifier: Apache-2.0
//
// Name rules of the Prometheus data model, checked when a family or a series is created rather than when it
// is scraped: a bad name is a programming error, and finding it at start-up beats serving an exposition that
// Prometheus rejects whole.
#pragma once

#include <string_view>

#include "podid/metrics/metric_family.h"

namespace podid::metrics {

// [a-zA-Z_:][a-zA-Z0-9_:]*, and not starting with "__" (reserved for Prometheus itself).
bool CheckMetricName(std::string_view name);

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", and not "le" for a histogram (the serializer adds that one).
bool CheckLabelName(std::string_view name, MetricType type);

}  // namespace podid::metrics
