// SPDX-License-Identifier: Apache-2.0
//
// The controller's keyed work queue (one key per scale set or VM): client-go's rate-limited delaying queue
// reduced to what a level-triggered reconciler needs, and pure. Time is passed in (`now`), nothing sleeps,
// nothing locks: the driver owns one queue on one strand, pops due keys and arms one timer at next_due().
//
//   add(k, now)              due at now + window, unless already queued earlier (the earlier time stays: a
//                            steady stream of events coalesces into one round per window and never postpones it).
//   add_after(k, now, d)     due at now + d, unless already queued earlier (scheduled re-checks).
//   pop(now)                 the due key with the earliest due time, now marked processing; nullopt if none.
//   done(k, now, outcome)    processing ends. Success forgets the key's failures; a failure requeues it at
//                            now + backoff; throttled requeues it at now + max(retry_after, backoff). Other keys
//                            are never held up by one key's backoff.
//   forget(k)                drops the key and its failure history (the resource is gone). A key being
//                            processed stays handed out until done(), which then requeues it only if it was
//                            added again after the forget.
//   hold_group(g, until)     no key of group g (options.group_of: the subscription of a compute key) falls due
//                            before `until`: queued keys are pushed back to it (the one case where a due time
//                            moves later), and adds and requeues meanwhile land at it. For limits shared by many
//                            keys, as ARM's per-subscription budget is.
//
// A key added while it is being processed is not handed out again: it is marked dirty and requeued (due
// done-time + window) when done() arrives, so one key is never processed twice at once.
//
// Backoff after n consecutive failures (throttles count): initial * 2^(n-1), capped at max, then jittered by
// a factor in [1 - jitter, 1 + jitter) drawn from a seeded generator (tests are reproducible) and capped at
// max again. Unlike client-go, the backoff is a floor for the key, not only a delayed re-add: add() and
// add_after() while it runs do not bring the key forward. A VMSS whose PATCH keeps failing (an identity
// without its role) would otherwise be re-PATCHed on every pod event on its nodes, which is how MIC burned
// its ARM write quota (aad-pod-identity.md §2.8, #1139, #1192); for a 429 it is what ARM asked for.
//
// Errors: none. done() for a key that is not being processed changes nothing and returns false.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

namespace podid::controller {

struct WorkQueueOptions {
  std::chrono::milliseconds window{1000};           // coalescing delay of add()
  std::chrono::milliseconds initial_backoff{1000};  // after the first failure
  std::chrono::milliseconds max_backoff{300'000};   // cap of the exponential backoff (after jitter too)
  double jitter = 0.2;                              // +-fraction applied to each backoff; 0 disables it
  std::uint64_t seed = 0;                           // seeds the jitter generator
  std::function<std::string(std::string_view key)> group_of;  // hold_group's groups; "" = none (default)
};

// How a round for a key ended, as the queue needs to know it.
struct Outcome {
  enum class Kind { kSuccess, kFailure, kThrottled };
  Kind kind = Kind::kSuccess;
  std::chrono::steady_clock::duration retry_after{};  // kThrottled: what the server asked for

  static Outcome success() { return {Kind::kSuccess, {}}; }
  static Outcome failure() { return {Kind::kFailure, {}}; }
  static Outcome throttled(std::chrono::steady_clock::duration retry_after) { return {Kind::kThrottled, retry_after}; }
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Duration = Clock::duration;

  explicit WorkQueue(WorkQueueOptions options = {});

  void add(const std::string& key, TimePoint now);
  void add_after(const std::string& key, TimePoint now, Duration delay);
  std::optional<std::string> pop(TimePoint now);
  bool done(const std::string& key, TimePoint now, const Outcome& outcome);
  void forget(const std::string& key);
  void hold_group(std::string_view group, TimePoint until);

  // When the earliest queued key falls due (possibly in the past); nullopt when nothing is queued.
  std::optional<TimePoint> next_due() const;
  // When `key` falls due; nullopt when it is not queued (e.g. being processed).
  std::optional<TimePoint> due(std::string_view key) const;
  std::size_t depth() const { return by_due_.size(); }  // queued keys (not those being processed)
  std::size_t processing() const { return processing_; }
  // Consecutive failures of `key` (0 when unknown).
  unsigned failures(std::string_view key) const;

 private:
  struct KeyState {
    std::optional<TimePoint> due;  // set iff queued
    std::uint64_t seq = 0;         // FIFO among equal due times
    TimePoint hold{};              // not due before this (backoff / Retry-After); epoch when none
    unsigned failures = 0;
    bool processing = false;
    bool dirty = false;                   // add() while processing: requeue at done-time + window
    std::optional<TimePoint> requeue_at;  // add_after() while processing
    bool forgotten = false;               // forget() while processing: done() drops the key
  };
  using Index = std::set<std::tuple<TimePoint, std::uint64_t, std::string>>;

  void enqueue(const std::string& key, KeyState& state, TimePoint candidate);
  void unqueue(const std::string& key, KeyState& state);
  Duration backoff(unsigned failures);
  TimePoint group_hold(const std::string& key) const;

  WorkQueueOptions options_;
  std::mt19937_64 rng_;
  std::map<std::string, KeyState, std::less<>> keys_;  // a key is here iff queued or processing
  Index by_due_;
  std::uint64_t next_seq_ = 0;
  std::size_t processing_ = 0;
  std::map<std::string, TimePoint, std::less<>> group_holds_;
};

}  // namespace podid::controller
