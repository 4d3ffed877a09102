// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/subscription_budget.h"

#include <gtest/gtest.h>

namespace podid::controller {
namespace {

using namespace std::chrono_literals;
using TimePoint = SubscriptionBudget::TimePoint;
const TimePoint t0 = TimePoint{} + 1000h;

TEST(SubscriptionBudget, ASubscriptionWide429HoldsTheSubscriptionForItsRetryAfter) {
  SubscriptionBudget b;
  b.observe("sub-1", {.remaining_reads = 0, .reads = 1, .throttled = true, .retry_after = 40s}, t0);
  EXPECT_EQ(b.hold_until("sub-1", t0), t0 + 40s);
  EXPECT_EQ(b.hold_until("sub-2", t0), std::nullopt) << "other subscriptions have their own budget";
  EXPECT_EQ(b.hold_until("sub-1", t0 + 40s), std::nullopt);
  b.observe("sub-2", {.throttled = true}, t0);  // no Retry-After: a short hold all the same
  EXPECT_EQ(b.hold_until("sub-2", t0), t0 + 5s);
}

TEST(SubscriptionBudget, ALowBudgetPacesRoundsToItsRefillRate) {
  SubscriptionBudget b;
  b.observe("sub-1", {.remaining_reads = 9000, .remaining_writes = 900, .reads = 3, .writes = 1}, t0);
  EXPECT_EQ(b.hold_until("sub-1", t0), std::nullopt) << "plenty left: no pacing";
  b.observe("sub-1", {.remaining_reads = 400, .reads = 3}, t0);
  EXPECT_EQ(b.hold_until("sub-1", t0), t0 + 900ms);  // 3 reads at 300 ms each
  b.observe("sub-1", {.remaining_writes = 20, .reads = 2, .writes = 1}, t0 + 100ms);
  EXPECT_EQ(b.hold_until("sub-1", t0 + 100ms), t0 + 900ms + 600ms + 3s) << "paced on what both kinds need";
  EXPECT_EQ(b.remaining_reads("sub-1"), 400);
  EXPECT_EQ(b.remaining_writes("sub-1"), 20);
}

TEST(SubscriptionBudget, SubscriptionOfAComputeKey) {
  EXPECT_EQ(subscription_of("/subscriptions/ABC-1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/v"),
            "abc-1");
  EXPECT_EQ(subscription_of(""), "");
  EXPECT_EQ(subscription_of("/resourcegroups/rg"), "");
}

}  // namespace
}  // namespace podid::controller
