// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/family.h"

#include <stdexcept>

#include "podid/metrics/check_names.h"
#include "podid/metrics/counter.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"

namespace podid::metrics {
namespace {

void check_label_names(const std::string& metric, const Labels& labels, MetricType type) {
  for (const auto& [name, value] : labels) {
    if (!CheckLabelName(name, type)) {
      throw std::invalid_argument("metric " + metric + ": invalid label name '" + name + "'");
    }
  }
}

}  // namespace

template <typename T>
Family<T>::Family(std::string name, std::string help, Labels constant_labels)
    : name_{std::move(name)}, help_{std::move(help)}, constant_labels_{std::move(constant_labels)} {
  if (!CheckMetricName(name_)) {
    throw std::invalid_argument("invalid metric name '" + name_ + "'");
  }
  check_label_names(name_, constant_labels_, T::metric_type);
}

template <typename T>
void Family<T>::check_labels(const Labels& labels) const {
  check_label_names(name_, labels, T::metric_type);
  for (const auto& [name, value] : labels) {
    // Serialized, the series would carry the label twice, which Prometheus rejects.
    if (constant_labels_.contains(name)) {
      throw std::invalid_argument("metric " + name_ + ": label '" + name + "' repeats a constant label");
    }
  }
}

template <typename T>
void Family<T>::Remove(T* metric) {
  std::lock_guard lock{mutex_};
  auto found = by_address_.find(metric);
  if (found == by_address_.end()) {
    return;
  }
  metrics_.erase(found->second);
  by_address_.erase(found);
}

template <typename T>
bool Family<T>::Has(const Labels& labels) const {
  std::lock_guard lock{mutex_};
  return metrics_.contains(labels);
}

template <typename T>
std::vector<MetricFamily> Family<T>::Collect() const {
  MetricFamily family{.name = name_, .help = help_, .type = T::metric_type, .metric = {}};
  std::lock_guard lock{mutex_};
  family.metric.reserve(metrics_.size());
  for (const auto& [labels, metric] : metrics_) {
    ClientMetric& out = family.metric.emplace_back(metric->Collect());
    // Constant and per-series names are disjoint (check_labels), so merging the two sorted maps gives one
    // sorted label list without duplicates.
    Labels all = constant_labels_;
    all.insert(labels.begin(), labels.end());
    out.label.reserve(all.size());
    for (auto& [name, value] : all) {
      out.label.push_back({.name = name, .value = value});
    }
  }
  return {std::move(family)};
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace podid::metrics
