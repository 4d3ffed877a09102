// SPDX-License-Identifier: Apache-2.0
//
// Fluent registration, as in prometheus-cpp:
//   auto& family = BuildCounter().Name("podid_x_total").Help("...").Labels({{"node", n}}).Register(registry);
// Labels() here are the family's constant labels, attached to every series of the family.
#pragma once

#include <string>
#include <utility>

#include "podid/metrics/family.h"
#include "podid/metrics/metric_family.h"
#include "podid/metrics/registry.h"

namespace podid::metrics::detail {

template <typename T>
class Builder {
 public:
  // Spelled metrics::Labels because the member function below hides the type name inside the class.
  Builder& Labels(const metrics::Labels& labels) {
    labels_ = labels;
    return *this;
  }
  Builder& Name(std::string name) {
    name_ = std::move(name);
    return *this;
  }
  Builder& Help(std::string help) {
    help_ = std::move(help);
    return *this;
  }

  // Throws std::invalid_argument on an invalid name or label name, or a name taken by another type.
  Family<T>& Register(Registry& registry) { return registry.Add<T>(name_, help_, labels_); }

 private:
  std::string name_;
  std::string help_;
  metrics::Labels labels_;
};

}  // namespace podid::metrics::detail
