// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/check_names.h"

namespace podid::metrics {
namespace {

// Plain ASCII tests rather than <cctype>, whose answers depend on the C locale.
bool is_letter_or_underscore(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_reserved(std::string_view name) { return name.starts_with("__"); }

}  // namespace

bool CheckMetricName(std::string_view name) {
  if (name.empty() || is_reserved(name) || is_digit(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!is_letter_or_underscore(c) && !is_digit(c) && c != ':') {
      return false;
    }
  }
  return true;
}

bool CheckLabelName(std::string_view name, MetricType type) {
  if (name.empty() || is_reserved(name) || is_digit(name.front())) {
    return false;
  }
  if (type == MetricType::Histogram && name == "le") {
    return false;
  }
  for (char c : name) {
    if (!is_letter_or_underscore(c) && !is_digit(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace podid::metrics
