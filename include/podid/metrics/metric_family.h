// SPDX-License-Identifier: Apache-2.0
//
// The snapshot a scrape produces: plain values copied out of live metrics, so the serializer never touches an
// atomic or a lock. Mirrors prometheus-cpp's ClientMetric / MetricFamily, so code written against it reads
// the same.
//
// Naming: the whole podid::metrics API keeps prometheus-cpp's PascalCase member names (Add, Increment,
// Collect, ...) on purpose, so that code ported from or compared with prometheus-cpp reads identically;
// private helpers follow the project's snake_case.
//
// Errors: invalid metric names, label names and bucket boundaries throw std::invalid_argument from
// Registry::Add / Family::Add / Histogram's constructor. Those calls happen at start-up or with label names
// fixed in code, which is the only place podid throws. Nothing on the update or scrape path throws.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace podid::metrics {

// Label name -> value. A std::map so that equal label sets compare equal whatever order they were written in,
// and so series come out of a family in a stable order.
using Labels = std::map<std::string, std::string>;

enum class MetricType { Counter, Gauge, Histogram };

// One series: its labels (constant labels of the family included, sorted by name) and its value.
struct ClientMetric {
  struct Label {
    std::string name;
    std::string value;
    friend bool operator==(const Label&, const Label&) = default;
  };
  std::vector<Label> label;

  struct Counter {
    double value = 0.0;
  } counter;

  struct Gauge {
    double value = 0.0;
  } gauge;

  // Buckets are cumulative, as the exposition format wants them, and end with the +Inf bucket.
  struct Bucket {
    std::uint64_t cumulative_count = 0;
    double upper_bound = 0.0;
  };
  struct Histogram {
    std::uint64_t sample_count = 0;
    double sample_sum = 0.0;
    std::vector<Bucket> bucket;
  } histogram;
};

// All series sharing one name, HELP and TYPE.
struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::Counter;
  std::vector<ClientMetric> metric;
};

}  // namespace podid::metrics
