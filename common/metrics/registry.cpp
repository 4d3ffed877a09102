// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/registry.h"

#include <stdexcept>
#include <utility>

#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"

namespace podid::metrics {
namespace {

// The names a family's samples appear under in the exposition.
std::vector<std::string> series_names(const std::string& name, MetricType type) {
  if (type == MetricType::Histogram) {
    return {name, name + "_bucket", name + "_sum", name + "_count"};
  }
  return {name};
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::check_collisions(const std::string& name, MetricType type) const {
  const auto wanted = series_names(name, type);
  for (const auto& [other_name, entry] : families_) {
    for (const auto& taken : series_names(other_name, entry.type)) {
      for (const auto& candidate : wanted) {
        if (taken == candidate) {
          throw std::invalid_argument("metric " + name + ": series name '" + candidate + "' is already used by " +
                                      other_name);
        }
      }
    }
  }
}

template <typename T>
Family<T>& Registry::Add(const std::string& name, const std::string& help, const Labels& constant_labels) {
  std::lock_guard lock{mutex_};
  if (auto it = families_.find(name); it != families_.end()) {
    if (it->second.type != T::metric_type) {
      throw std::invalid_argument("metric " + name + " is already registered with another type");
    }
    auto& existing = static_cast<Family<T>&>(*it->second.family);
    if (existing.GetConstantLabels() != constant_labels) {
      throw std::invalid_argument("metric " + name + " is already registered with other constant labels");
    }
    return existing;
  }
  check_collisions(name, T::metric_type);
  auto family = std::make_unique<Family<T>>(name, help, constant_labels);  // validates the names
  auto& ref = *family;
  families_.emplace(name, Entry{.type = T::metric_type, .family = std::move(family)});
  return ref;
}

template Family<Counter>& Registry::Add(const std::string&, const std::string&, const Labels&);
template Family<Gauge>& Registry::Add(const std::string&, const std::string&, const Labels&);
template Family<Histogram>& Registry::Add(const std::string&, const std::string&, const Labels&);

void Registry::AddCollectCallback(std::function<void()> callback) {
  std::lock_guard lock{mutex_};
  callbacks_.push_back(std::move(callback));
}

std::vector<MetricFamily> Registry::Collect() const {
  std::lock_guard scrape{collect_mutex_};

  // Callbacks run on a copy and without mutex_, so they can register families and Add series.
  std::vector<std::function<void()>> callbacks;
  std::vector<const Collectable*> families;
  {
    std::lock_guard lock{mutex_};
    callbacks = callbacks_;
  }
  for (const auto& callback : callbacks) {
    callback();
  }
  {
    std::lock_guard lock{mutex_};
    families.reserve(families_.size());
    for (const auto& [name, entry] : families_) {
      families.push_back(entry.family.get());
    }
  }

  // Families are never removed from a registry, so the pointers stay valid without mutex_, and each family
  // locks itself while it copies its series.
  std::vector<MetricFamily> out;
  out.reserve(families.size());
  for (const auto* family : families) {
    for (auto& collected : family->Collect()) {
      out.push_back(std::move(collected));
    }
  }
  return out;
}

}  // namespace podid::metrics
