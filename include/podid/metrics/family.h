// SPDX-License-Identifier: Apache-2.0
//
// All series of one metric name, told apart by their labels. Mirrors prometheus-cpp's Family<T>:
//   auto& ok = family.Add({{"outcome", "ok"}});   // same labels -> same object, every time
//   ok.Increment();
// References returned by Add stay valid until Remove(&metric) or the registry is destroyed, so hot paths can
// look a series up once and keep the reference. Thread-safe.
//
// T is Counter, Gauge or Histogram (explicitly instantiated in family.cpp).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podid/metrics/collectable.h"
#include "podid/metrics/metric_family.h"

namespace podid::metrics {

template <typename T>
class Family : public Collectable {
 public:
  // Throws std::invalid_argument on an invalid metric name or constant label name.
  Family(std::string name, std::string help, Labels constant_labels);

  // The series with these labels, created with T(args...) if new; args are ignored when it already exists
  // (as in prometheus-cpp, a histogram keeps the buckets it was first created with). Throws
  // std::invalid_argument on an invalid label name, or one that repeats a constant label.
  template <typename... Args>
  T& Add(const Labels& labels, Args&&... args) {
    std::lock_guard lock{mutex_};
    if (auto it = metrics_.find(labels); it != metrics_.end()) {
      return *it->second;
    }
    check_labels(labels);
    auto metric = std::make_unique<T>(std::forward<Args>(args)...);
    T& ref = *metric;
    auto it = metrics_.emplace(labels, std::move(metric)).first;
    by_address_.emplace(&ref, it);
    return ref;
  }

  // Drops the series; a pointer not from this family (or already removed) is ignored. Any reference to it
  // dangles afterwards, so callers remove only series nobody else holds (e.g. a deleted pod's).
  void Remove(T* metric);

  bool Has(const Labels& labels) const;

  const std::string& GetName() const { return name_; }
  const std::string& GetHelp() const { return help_; }
  const Labels& GetConstantLabels() const { return constant_labels_; }

  // One MetricFamily with every series, in label order. Empty families yield a family with no metric, which
  // the serializer leaves out.
  std::vector<MetricFamily> Collect() const override;

 private:
  using Series = std::map<Labels, std::unique_ptr<T>>;

  void check_labels(const Labels& labels) const;

  const std::string name_;
  const std::string help_;
  const Labels constant_labels_;

  mutable std::mutex mutex_;
  Series metrics_;                                                      // guarded by mutex_
  std::unordered_map<const T*, typename Series::iterator> by_address_;  // guarded by mutex_; for Remove
};

}  // namespace podid::metrics
