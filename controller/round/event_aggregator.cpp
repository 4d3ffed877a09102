// SPDX-License-Identifier: Apache-2.0
#include "controller/round/event_aggregator.h"

namespace podid::controller {
namespace {

constexpr const char* kApplied = "binding applied";
constexpr const char* kRemoved = "binding removed";
constexpr std::size_t kComputesNamed = 3;  // then "and N more"

// "identity assigned to 3 pod(s) on <compute>", or, over several computes,
// "identity assigned to 9 pod(s): 3 on <a>, 6 on <b>".
std::string message(std::string_view reason, const std::map<std::string, std::size_t>& per_compute) {
  std::size_t total = 0;
  for (const auto& [compute, n] : per_compute) total += n;
  std::string out = reason == kApplied ? "identity assigned to " : "assignment removed for ";
  out += std::to_string(total) + " pod(s)";
  if (per_compute.size() == 1) return out + " on " + per_compute.begin()->first;
  out += ":";
  std::size_t named = 0;
  for (const auto& [compute, n] : per_compute) {
    if (named == kComputesNamed) {
      out += " and " + std::to_string(per_compute.size() - named) + " more";
      break;
    }
    out += (named++ ? ", " : " ") + std::to_string(n) + " on " + compute;
  }
  return out;
}

}  // namespace

std::vector<EventToPost> BindingEventAggregator::add(const BindingTallies& tallies, std::string_view compute,
                                                     TimePoint now) {
  std::vector<EventToPost> errors;
  for (const auto& [key, t] : tallies) {
    if (!t.binding) continue;  // the AAI named no binding: nothing to put an Event on
    for (const auto& e : t.errors) errors.push_back({*t.binding, kube::EventType::kWarning, "binding apply error", e});
    for (const auto& [reason, count] : {std::pair{kApplied, t.applied}, std::pair{kRemoved, t.removed}}) {
      if (count == 0) continue;
      auto [it, opened] = pending_.try_emplace({key, reason});
      if (opened) {
        it->second.binding = *t.binding;
        it->second.due = now + window_;
      }
      it->second.per_compute[std::string(compute)] += count;
    }
  }
  return errors;
}

std::vector<EventToPost> BindingEventAggregator::due(TimePoint now, bool flush) {
  std::vector<EventToPost> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!flush && it->second.due > now) {
      ++it;
      continue;
    }
    const std::string& reason = it->first.second;
    out.push_back({it->second.binding, kube::EventType::kNormal, reason, message(reason, it->second.per_compute)});
    it = pending_.erase(it);
  }
  return out;
}

std::optional<BindingEventAggregator::TimePoint> BindingEventAggregator::next_due() const {
  std::optional<TimePoint> out;
  for (const auto& [key, p] : pending_) {
    if (!out || p.due < *out) out = p.due;
  }
  return out;
}

}  // namespace podid::controller
