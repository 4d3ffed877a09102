// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/event_correlator.h"

#include <algorithm>
#include <cstdio>

namespace podid::controller::kube {
namespace {

constexpr std::chrono::seconds kSpamWindow{60};

// Fields joined with a byte that cannot appear in Kubernetes names, kinds or uids.
std::string object_key(const ObjectRef& o) {
  std::string key;
  for (const std::string* part : {&o.api_version, &o.kind, &o.ns, &o.name, &o.uid}) {
    key += *part;
    key.push_back('\x1f');
  }
  return key;
}

}  // namespace

std::string_view to_string(EventType type) { return type == EventType::kWarning ? "Warning" : "Normal"; }

EventCorrelator::EventCorrelator(EventCorrelatorOptions options) : options_(options) {}

EventCorrelator::Decision EventCorrelator::observe(const ObjectRef& object, EventType type, std::string_view reason,
                                                   std::string_view message, Time now) {
  evict(now);
  const std::string obj_key = object_key(object);
  auto& window = windows_[obj_key];
  while (!window.empty() && now - window.front() >= kSpamWindow) window.pop_front();
  Decision d;
  d.key = obj_key;
  d.key.append(to_string(type)).push_back('\x1f');
  d.key.append(reason).push_back('\x1f');
  d.key.append(message);
  if (static_cast<int>(window.size()) >= options_.max_per_object_per_minute) return d;  // kDrop
  window.push_back(now);

  auto it = aggregates_.find(d.key);
  if (it != aggregates_.end() && now - it->second.last < options_.aggregation_window) {
    Aggregate& agg = it->second;
    agg.count += 1;
    agg.last = now;
    d.action = Action::kAggregate;
    d.name = agg.name;
    d.count = agg.count;
    d.first_timestamp = agg.first;
    return d;
  }
  Aggregate fresh{unique_name(object.name, now), 1, now, now};
  d.action = Action::kCreate;
  d.name = fresh.name;
  d.count = 1;
  d.first_timestamp = now;
  aggregates_.insert_or_assign(d.key, std::move(fresh));
  return d;
}

void EventCorrelator::forget(const std::string& key) { aggregates_.erase(key); }

std::string EventCorrelator::unique_name(const std::string& object_name, Time now) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  if (ns <= last_name_ns_) ns = last_name_ns_ + 1;
  last_name_ns_ = ns;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(ns));
  return object_name + "." + hex;
}

void EventCorrelator::evict(Time now) {
  if (aggregates_.size() > options_.max_tracked) {
    std::erase_if(aggregates_, [&](const auto& kv) { return now - kv.second.last >= options_.aggregation_window; });
    while (aggregates_.size() > options_.max_tracked) {
      auto stalest = std::min_element(aggregates_.begin(), aggregates_.end(),
                                      [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      aggregates_.erase(stalest);
    }
  }
  if (windows_.size() > options_.max_tracked) {
    std::erase_if(windows_, [&](const auto& kv) { return kv.second.empty() || now - kv.second.back() >= kSpamWindow; });
    while (windows_.size() > options_.max_tracked) {
      auto stalest = std::min_element(windows_.begin(), windows_.end(),
                                      [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
      windows_.erase(stalest);
    }
  }
}

}  // namespace podid::controller::kube
