// SPDX-License-Identifier: Apache-2.0
//
// ARM's request budget per subscription, as the controller learns it from the answers, and how long that
// subscription's computes must wait. ARM limits a principal per subscription (12,000 reads and 1,200 writes an
// hour, refilled continuously), not per scale set: every answer says what is left
// (x-ms-ratelimit-remaining-subscription-reads / -writes), and once a kind is spent ARM answers 429 to every
// call of that kind in the subscription until Retry-After.
//   - A subscription-wide 429 holds every compute of the subscription for its Retry-After (kMinHold when it
//     gave none), not only the one whose round met it.
//   - While what is left runs low (below low_reads / low_writes), rounds in the subscription are paced to the
//     budget's refill rate (one read per read_interval, one write per write_interval), so a burst of rounds
//     never spends the budget to zero.
// Compute's own per-resource limits (x-ms-ratelimit-remaining-resource) stay with the compute (the work
// queue's Retry-After per key). Pure: time is passed in.
//
// Errors: none.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace podid::controller {

struct SubscriptionBudgetOptions {
  long low_reads = 600;                            // 5% of 12,000
  long low_writes = 60;                            // 5% of 1,200
  std::chrono::milliseconds read_interval{300};    // 12,000 an hour
  std::chrono::milliseconds write_interval{3000};  // 1,200 an hour
  std::chrono::seconds min_hold{5};                // a subscription-wide 429 without Retry-After
};

// What one round saw of a subscription's budget.
struct BudgetSeen {
  std::optional<long> remaining_reads, remaining_writes;
  unsigned reads = 0, writes = 0;  // calls the round made
  bool throttled = false;          // it met a subscription-wide 429
  std::optional<std::chrono::seconds> retry_after;
};

class SubscriptionBudget {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit SubscriptionBudget(SubscriptionBudgetOptions options = {}) : options_(options) {}

  void observe(std::string_view subscription, const BudgetSeen& seen, TimePoint now);
  // When the subscription's computes may run again; nullopt when they need not wait.
  std::optional<TimePoint> hold_until(std::string_view subscription, TimePoint now) const;
  std::optional<long> remaining_reads(std::string_view subscription) const;
  std::optional<long> remaining_writes(std::string_view subscription) const;

 private:
  struct Subscription {
    std::optional<long> reads_left, writes_left;
    TimePoint blocked_until{}, paced_until{};
  };
  SubscriptionBudgetOptions options_;
  std::map<std::string, Subscription, std::less<>> subscriptions_;
};

// The subscription of a compute key ("/subscriptions/<s>/..."), lower-case; "" when it names none.
std::string subscription_of(std::string_view compute_key);

}  // namespace podid::controller
