// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/work_queue.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace podid::controller {

WorkQueue::WorkQueue(WorkQueueOptions options) : options_(options), rng_(options.seed) {}

void WorkQueue::enqueue(const std::string& key, KeyState& state, TimePoint candidate) {
  candidate = std::max({candidate, state.hold, group_hold(key)});
  // Never postpone: a key already queued keeps its earlier due time.
  if (state.due && *state.due <= candidate) return;
  unqueue(key, state);
  state.due = candidate;
  state.seq = next_seq_++;
  by_due_.emplace(candidate, state.seq, key);
}

void WorkQueue::unqueue(const std::string& key, KeyState& state) {
  if (!state.due) return;
  by_due_.erase({*state.due, state.seq, key});
  state.due.reset();
}

void WorkQueue::add(const std::string& key, TimePoint now) {
  KeyState& state = keys_[key];
  if (state.processing) {
    state.dirty = true;
    state.forgotten = false;
    return;
  }
  enqueue(key, state, now + options_.window);
}

void WorkQueue::add_after(const std::string& key, TimePoint now, Duration delay) {
  KeyState& state = keys_[key];
  if (state.processing) {
    const TimePoint at = now + delay;
    state.requeue_at = state.requeue_at ? std::min(*state.requeue_at, at) : at;
    state.forgotten = false;
    return;
  }
  enqueue(key, state, now + delay);
}

std::optional<std::string> WorkQueue::pop(TimePoint now) {
  if (by_due_.empty()) return std::nullopt;
  auto first = by_due_.begin();
  if (std::get<0>(*first) > now) return std::nullopt;
  std::string key = std::get<2>(*first);
  by_due_.erase(first);
  KeyState& state = keys_.find(key)->second;
  state.due.reset();
  state.processing = true;
  ++processing_;
  return key;
}

bool WorkQueue::done(const std::string& key, TimePoint now, const Outcome& outcome) {
  auto it = keys_.find(key);
  if (it == keys_.end() || !it->second.processing) return false;
  KeyState& state = it->second;
  state.processing = false;
  --processing_;

  const bool wanted_again = state.dirty || state.requeue_at;
  if (state.forgotten && !wanted_again) {
    keys_.erase(it);
    return true;
  }
  std::optional<TimePoint> requeue;
  if (outcome.kind == Outcome::Kind::kSuccess) {
    state.failures = 0;
    state.hold = {};
    if (state.dirty) requeue = now + options_.window;
    if (state.requeue_at) requeue = requeue ? std::min(*requeue, *state.requeue_at) : *state.requeue_at;
  } else {
    Duration delay = backoff(++state.failures);
    if (outcome.kind == Outcome::Kind::kThrottled) delay = std::max(delay, outcome.retry_after);
    state.hold = now + delay;
    requeue = state.hold;
  }
  state.dirty = false;
  state.requeue_at.reset();
  state.forgotten = false;
  if (!requeue) {
    keys_.erase(it);
    return true;
  }
  enqueue(key, state, *requeue);
  return true;
}

void WorkQueue::forget(const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  KeyState& state = it->second;
  if (state.processing) {
    // Still handed out: keep it marked so it cannot be popped twice; done() drops it.
    state.failures = 0;
    state.hold = {};
    state.dirty = false;
    state.requeue_at.reset();
    state.forgotten = true;
    return;
  }
  unqueue(key, state);
  keys_.erase(it);
}

WorkQueue::TimePoint WorkQueue::group_hold(const std::string& key) const {
  if (!options_.group_of || group_holds_.empty()) return {};
  const std::string group = options_.group_of(key);
  if (group.empty()) return {};
  auto it = group_holds_.find(group);
  return it == group_holds_.end() ? TimePoint{} : it->second;
}

void WorkQueue::hold_group(std::string_view group, TimePoint until) {
  if (group.empty() || !options_.group_of) return;
  auto [it, added] = group_holds_.try_emplace(std::string(group), until);
  if (!added) {
    if (it->second >= until) return;
    it->second = until;
  }
  std::vector<std::string> later;
  for (const auto& [key, state] : keys_) {
    if (state.due && *state.due < until && options_.group_of(key) == group) later.push_back(key);
  }
  for (const auto& key : later) {
    KeyState& state = keys_.find(key)->second;
    unqueue(key, state);
    enqueue(key, state, until);
  }
}

std::optional<WorkQueue::TimePoint> WorkQueue::next_due() const {
  if (by_due_.empty()) return std::nullopt;
  return std::get<0>(*by_due_.begin());
}

std::optional<WorkQueue::TimePoint> WorkQueue::due(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? std::nullopt : it->second.due;
}

unsigned WorkQueue::failures(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? 0 : it->second.failures;
}

WorkQueue::Duration WorkQueue::backoff(unsigned failures) {
  using Millis = std::chrono::duration<double, std::milli>;
  const double max = Millis(options_.max_backoff).count();
  // 2^(n-1) in double cannot overflow for any unsigned n the cap leaves meaningful; clamp the exponent anyway.
  const double exponent = std::min<double>(failures == 0 ? 0 : failures - 1, 64);
  double ms = std::min(Millis(options_.initial_backoff).count() * std::exp2(exponent), max);
  if (options_.jitter > 0) {
    // 53 random bits -> [0, 1): the same sequence on every standard library, unlike std::uniform_real_distribution.
    const double unit = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    ms = std::min(ms * (1.0 + options_.jitter * (2.0 * unit - 1.0)), max);
  }
  return std::chrono::duration_cast<Duration>(Millis(ms));
}

}  // namespace podid::controller
