// SPDX-License-Identifier: Apache-2.0
//
// "binding applied" and "binding removed" Events summed per binding over a window: each round tallies what it
// did per binding (round_interpretation.h), and under churn one Event per binding and kind per window goes out
// instead of one per binding and round (each an API write, and rounds come every coalescing window). The first
// tally for a binding and kind opens its window; when the window has passed, one Event says how many pods on
// which computes. "binding apply error" is not held: it goes out with the round that met it (the
// EventCorrelator folds repeats). A window of zero sends everything at once. Pure: time is passed in.
//
// Errors: none.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/round/round_interpretation.h"

namespace podid::controller {

class BindingEventAggregator {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit BindingEventAggregator(std::chrono::steady_clock::duration window) : window_(window) {}

  // A round's tallies on `compute_name`. The errors among them are returned at once, as Events to post now.
  std::vector<EventToPost> add(const BindingTallies& tallies, std::string_view compute_name, TimePoint now);
  // The Events whose window has passed (all of them with `flush`); they are forgotten.
  std::vector<EventToPost> due(TimePoint now, bool flush = false);
  std::optional<TimePoint> next_due() const;
  void clear() { pending_.clear(); }

 private:
  struct Pending {
    kube::ObjectRef binding;
    TimePoint due;
    std::map<std::string, std::size_t> per_compute;  // compute -> pods
  };
  // By (binding "ns/name", reason).
  std::map<std::pair<std::string, std::string>, Pending> pending_;
  std::chrono::steady_clock::duration window_;
};

}  // namespace podid::controller
