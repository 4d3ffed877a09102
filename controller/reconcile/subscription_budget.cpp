// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/subscription_budget.h"

#include <algorithm>

#include "podid/ascii.h"

namespace podid::controller {

void SubscriptionBudget::observe(std::string_view subscription, const BudgetSeen& seen, TimePoint now) {
  if (subscription.empty()) return;
  auto [it, added] = subscriptions_.try_emplace(std::string(subscription));
  Subscription& s = it->second;
  if (seen.remaining_reads) s.reads_left = seen.remaining_reads;
  if (seen.remaining_writes) s.writes_left = seen.remaining_writes;
  if (seen.throttled) {
    const std::chrono::seconds wait = std::max(seen.retry_after.value_or(options_.min_hold), std::chrono::seconds(1));
    s.blocked_until = std::max(s.blocked_until, now + wait);
  }
  // Low: the next round waits as long as the budget takes to refill what this one spent.
  auto paced = std::max(s.paced_until, now);
  bool pacing = false;
  if (s.reads_left && *s.reads_left < options_.low_reads && seen.reads > 0) {
    paced += options_.read_interval * seen.reads;
    pacing = true;
  }
  if (s.writes_left && *s.writes_left < options_.low_writes && seen.writes > 0) {
    paced += options_.write_interval * seen.writes;
    pacing = true;
  }
  if (pacing) s.paced_until = paced;
}

std::optional<SubscriptionBudget::TimePoint> SubscriptionBudget::hold_until(std::string_view subscription,
                                                                            TimePoint now) const {
  auto it = subscriptions_.find(subscription);
  if (it == subscriptions_.end()) return std::nullopt;
  const TimePoint until = std::max(it->second.blocked_until, it->second.paced_until);
  if (until <= now) return std::nullopt;
  return until;
}

std::optional<long> SubscriptionBudget::remaining_reads(std::string_view subscription) const {
  auto it = subscriptions_.find(subscription);
  return it == subscriptions_.end() ? std::nullopt : it->second.reads_left;
}

std::optional<long> SubscriptionBudget::remaining_writes(std::string_view subscription) const {
  auto it = subscriptions_.find(subscription);
  return it == subscriptions_.end() ? std::nullopt : it->second.writes_left;
}

std::string subscription_of(std::string_view key) {
  constexpr std::string_view kPrefix = "/subscriptions/";
  if (key.size() <= kPrefix.size() || !ascii::iequals(key.substr(0, kPrefix.size()), kPrefix)) return "";
  key.remove_prefix(kPrefix.size());
  return ascii::lowered(key.substr(0, key.find('/')));
}

}  // namespace podid::controller
