// SPDX-License-Identifier: Apache-2.0
#include "controller/reconcile/work_queue.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace podid::controller {
namespace {

using namespace std::chrono_literals;
using TimePoint = WorkQueue::TimePoint;

const TimePoint t0 = TimePoint{} + 1000h;  // any fixed point; the queue never reads a clock

WorkQueueOptions no_jitter() {
  WorkQueueOptions o;
  o.jitter = 0;
  return o;
}

// Pops `key` at `now` and ends it with `outcome`; fails the test if it was not the key handed out.
void run_once(WorkQueue& q, const std::string& key, TimePoint now, const Outcome& outcome) {
  auto popped = q.pop(now);
  ASSERT_EQ(popped, std::optional<std::string>(key));
  ASSERT_TRUE(q.done(key, now, outcome));
}

TEST(WorkQueue, AddIsDueAfterTheCoalescingWindow) {
  WorkQueue q(no_jitter());
  q.add("vmss-a", t0);
  EXPECT_EQ(q.depth(), 1u);
  EXPECT_EQ(q.next_due(), t0 + 1s);
  EXPECT_EQ(q.pop(t0 + 999ms), std::nullopt);
  EXPECT_EQ(q.pop(t0 + 1s), std::optional<std::string>("vmss-a"));
}

TEST(WorkQueue, EventsWithinTheWindowCoalesceIntoOneRound) {
  WorkQueue q(no_jitter());
  for (int i = 0; i < 5; ++i) q.add("vmss-a", t0 + i * 100ms);
  EXPECT_EQ(q.depth(), 1u);
  EXPECT_EQ(q.pop(t0 + 1s), std::optional<std::string>("vmss-a"));
  EXPECT_EQ(q.pop(t0 + 1s), std::nullopt) << "one round for five events";
}

TEST(WorkQueue, AConstantStreamOfEventsNeverPostponesTheKey) {
  WorkQueue q(no_jitter());
  std::optional<std::string> popped;
  TimePoint when{};
  for (auto now = t0; now < t0 + 10s && !popped; now += 100ms) {
    q.add("busy", now);
    popped = q.pop(now);
    when = now;
  }
  ASSERT_TRUE(popped);
  EXPECT_EQ(when, t0 + 1s);
}

TEST(WorkQueue, AddAfterSchedulesAndAnEarlierRequestWins) {
  WorkQueue q(no_jitter());
  q.add_after("k", t0, 10min);
  EXPECT_EQ(q.due("k"), t0 + 10min);
  q.add("k", t0 + 1s);  // an event: due at its window, earlier than the scheduled check
  EXPECT_EQ(q.due("k"), t0 + 2s);
  q.add_after("k", t0 + 1s, 1h);  // later: does not postpone
  EXPECT_EQ(q.due("k"), t0 + 2s);
  EXPECT_EQ(q.depth(), 1u);
}

TEST(WorkQueue, EarliestDueFirstAndFifoAmongEquals) {
  WorkQueue q(no_jitter());
  q.add_after("late", t0, 5s);
  q.add_after("first", t0, 2s);
  q.add_after("second", t0, 2s);
  EXPECT_EQ(q.pop(t0 + 10s), std::optional<std::string>("first"));
  EXPECT_EQ(q.pop(t0 + 10s), std::optional<std::string>("second"));
  EXPECT_EQ(q.pop(t0 + 10s), std::optional<std::string>("late"));
  EXPECT_EQ(q.processing(), 3u);
}

TEST(WorkQueue, AKeyBeingProcessedIsNeverHandedOutAgain) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  ASSERT_EQ(q.pop(t0 + 1s), std::optional<std::string>("k"));
  q.add("k", t0 + 1s);
  q.add_after("k", t0 + 1s, 0s);
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.processing(), 1u);
  EXPECT_EQ(q.pop(t0 + 1h), std::nullopt);
  EXPECT_EQ(q.next_due(), std::nullopt);
}

TEST(WorkQueue, AddedWhileProcessingIsRequeuedWhenDone) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  ASSERT_EQ(q.pop(t0 + 1s), std::optional<std::string>("k"));
  q.add("k", t0 + 2s);  // dirty
  ASSERT_TRUE(q.done("k", t0 + 5s, Outcome::success()));
  EXPECT_EQ(q.processing(), 0u);
  EXPECT_EQ(q.due("k"), t0 + 6s) << "done-time + window";
}

TEST(WorkQueue, NotAddedWhileProcessingLeavesTheQueueOnSuccess) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  run_once(q, "k", t0 + 1s, Outcome::success());
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.processing(), 0u);
  EXPECT_EQ(q.due("k"), std::nullopt);
  EXPECT_EQ(q.next_due(), std::nullopt);
}

TEST(WorkQueue, ScheduledWhileProcessingIsKeptAfterSuccess) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  ASSERT_TRUE(q.pop(t0 + 1s));
  q.add_after("k", t0 + 1s, 3min);
  ASSERT_TRUE(q.done("k", t0 + 2s, Outcome::success()));
  EXPECT_EQ(q.due("k"), t0 + 1s + 3min);
}

TEST(WorkQueue, BackoffDoublesPerFailureAndIsCapped) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  TimePoint now = t0 + 1s;
  std::vector<std::chrono::seconds> delays;
  for (int i = 0; i < 12; ++i) {
    run_once(q, "k", now, Outcome::failure());
    auto due = q.due("k");
    ASSERT_TRUE(due);
    delays.push_back(std::chrono::duration_cast<std::chrono::seconds>(*due - now));
    now = *due;
  }
  const std::vector<std::chrono::seconds> want = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s, 300s};
  EXPECT_EQ(delays, want);
  EXPECT_EQ(q.failures("k"), 12u);
}

TEST(WorkQueue, HugeFailureCountsStayAtTheCap) {
  WorkQueueOptions o = no_jitter();
  o.max_backoff = 5s;
  WorkQueue q(o);
  q.add("k", t0);
  TimePoint now = t0 + 1s;
  for (int i = 0; i < 200; ++i) {
    run_once(q, "k", now, Outcome::failure());
    now = *q.due("k");
  }
  run_once(q, "k", now, Outcome::failure());
  EXPECT_EQ(*q.due("k") - now, 5s);
}

TEST(WorkQueue, JitterStaysWithinTwentyPercentAndUnderTheCap) {
  WorkQueueOptions o;  // jitter 0.2
  o.seed = 42;
  WorkQueue q(o);
  std::set<long long> distinct;
  for (int key = 0; key < 50; ++key) {
    // Appended, not "k" + to_string(): GCC 12 warns falsely (-Wstringop-overflow) on that form.
    std::string k = "k";
    k += std::to_string(key);
    q.add(k, t0);
    TimePoint now = t0 + 1s;
    double nominal = 1000;
    for (int i = 0; i < 11; ++i) {
      run_once(q, k, now, Outcome::failure());
      const auto due = *q.due(k);
      const double ms = std::chrono::duration<double, std::milli>(due - now).count();
      EXPECT_GE(ms, 0.8 * nominal - 1e-6) << "failure " << i + 1;
      EXPECT_LE(ms, std::min(1.2 * nominal, 300'000.0) + 1e-6) << "failure " << i + 1;
      distinct.insert(static_cast<long long>(ms));
      nominal = std::min(nominal * 2, 300'000.0);
      now = due;
    }
    q.forget(k);
  }
  EXPECT_GT(distinct.size(), 100u) << "jitter must actually spread the retries";
}

TEST(WorkQueue, JitterIsReproducibleFromItsSeed) {
  auto delays = [](std::uint64_t seed) {
    WorkQueueOptions o;
    o.seed = seed;
    WorkQueue q(o);
    q.add("k", t0);
    TimePoint now = t0 + 1s;
    std::vector<WorkQueue::Duration> out;
    for (int i = 0; i < 6; ++i) {
      auto popped = q.pop(now);
      EXPECT_TRUE(popped);
      q.done("k", now, Outcome::failure());
      out.push_back(*q.due("k") - now);
      now = *q.due("k");
    }
    return out;
  };
  EXPECT_EQ(delays(7), delays(7));
  EXPECT_NE(delays(7), delays(8));
}

TEST(WorkQueue, SuccessResetsTheBackoff) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  TimePoint now = t0 + 1s;
  for (int i = 0; i < 3; ++i) {
    run_once(q, "k", now, Outcome::failure());
    now = *q.due("k");
  }
  EXPECT_EQ(q.failures("k"), 3u);
  run_once(q, "k", now, Outcome::success());
  EXPECT_EQ(q.failures("k"), 0u);
  q.add("k", now);
  now += 1s;
  run_once(q, "k", now, Outcome::failure());
  EXPECT_EQ(*q.due("k") - now, 1s) << "back to the initial backoff";
}

TEST(WorkQueue, EventsDoNotCutABackoffShort) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  TimePoint now = t0 + 1s;
  for (int i = 0; i < 4; ++i) {
    run_once(q, "k", now, Outcome::failure());
    now = *q.due("k");
  }
  run_once(q, "k", now, Outcome::failure());  // 5th failure: 16 s
  const TimePoint hold = now + 16s;
  EXPECT_EQ(q.due("k"), hold);
  q.add("k", now + 1s);
  q.add_after("k", now + 1s, 0s);
  EXPECT_EQ(q.due("k"), hold);
  EXPECT_EQ(q.pop(hold - 1ms), std::nullopt);
}

TEST(WorkQueue, ThrottledKeyWaitsForRetryAfterWithoutBlockingOthers) {
  WorkQueue q(no_jitter());
  q.add("hot", t0);
  ASSERT_EQ(q.pop(t0 + 1s), std::optional<std::string>("hot"));
  q.add("cold", t0 + 1s);
  ASSERT_TRUE(q.done("hot", t0 + 1s, Outcome::throttled(1200s)));
  EXPECT_EQ(q.due("hot"), t0 + 1s + 1200s);
  q.add("hot", t0 + 2s);  // an event during the throttle: ARM asked for quiet
  EXPECT_EQ(q.due("hot"), t0 + 1s + 1200s);
  EXPECT_EQ(q.pop(t0 + 2s), std::optional<std::string>("cold"));
  EXPECT_EQ(q.pop(t0 + 1000s), std::nullopt);
  EXPECT_EQ(q.pop(t0 + 1201s), std::optional<std::string>("hot"));
}

TEST(WorkQueue, ThrottledUsesTheBackoffWhenItIsLonger) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  TimePoint now = t0 + 1s;
  for (int i = 0; i < 3; ++i) {  // backoff now 8 s for the next failure
    run_once(q, "k", now, Outcome::failure());
    now = *q.due("k");
  }
  run_once(q, "k", now, Outcome::throttled(2s));
  EXPECT_EQ(*q.due("k") - now, 8s);
  EXPECT_EQ(q.failures("k"), 4u);
}

TEST(WorkQueue, DepthCountsQueuedKeysOnly) {
  WorkQueue q(no_jitter());
  q.add("a", t0);
  q.add("b", t0);
  q.add("b", t0);
  q.add_after("c", t0, 1h);
  EXPECT_EQ(q.depth(), 3u);
  ASSERT_TRUE(q.pop(t0 + 1s));
  EXPECT_EQ(q.depth(), 2u);
  EXPECT_EQ(q.processing(), 1u);
  EXPECT_EQ(q.next_due(), t0 + 1s);
}

TEST(WorkQueue, ForgetDropsAQueuedKeyAndItsFailures) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  run_once(q, "k", t0 + 1s, Outcome::failure());
  q.forget("k");
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.failures("k"), 0u);
  EXPECT_EQ(q.pop(t0 + 1h), std::nullopt);
  q.add("k", t0 + 1h);
  EXPECT_EQ(q.due("k"), t0 + 1h + 1s) << "no hold left from the forgotten failure";
}

TEST(WorkQueue, ForgetWhileProcessingDropsTheKeyAtDone) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  ASSERT_TRUE(q.pop(t0 + 1s));
  q.add("k", t0 + 1s);
  q.forget("k");
  EXPECT_EQ(q.pop(t0 + 1h), std::nullopt) << "still handed out until done";
  ASSERT_TRUE(q.done("k", t0 + 2s, Outcome::failure()));
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.processing(), 0u);
  EXPECT_EQ(q.due("k"), std::nullopt);
}

TEST(WorkQueue, AddedAgainAfterForgetWhileProcessingIsRequeued) {
  WorkQueue q(no_jitter());
  q.add("k", t0);
  ASSERT_TRUE(q.pop(t0 + 1s));
  q.forget("k");
  q.add("k", t0 + 2s);
  ASSERT_TRUE(q.done("k", t0 + 3s, Outcome::success()));
  EXPECT_EQ(q.due("k"), t0 + 4s);
}

TEST(WorkQueue, DoneForAKeyNotHandedOutChangesNothing) {
  WorkQueue q(no_jitter());
  EXPECT_FALSE(q.done("never", t0, Outcome::failure()));
  q.add("queued", t0);
  EXPECT_FALSE(q.done("queued", t0, Outcome::failure()));
  EXPECT_EQ(q.due("queued"), t0 + 1s);
  EXPECT_EQ(q.failures("queued"), 0u);
  EXPECT_EQ(q.processing(), 0u);
}

// --- a hold on a group of keys (ARM's per-subscription budget) -----------------------------------------------
WorkQueueOptions grouped() {
  WorkQueueOptions o = no_jitter();
  o.group_of = [](std::string_view key) { return std::string(key.substr(0, key.find('/'))); };
  return o;
}

TEST(WorkQueueGroups, AHoldPushesBackEveryQueuedKeyOfTheGroupOnly) {
  WorkQueue q(grouped());
  q.add("sub1/vmss-a", t0);
  q.add("sub1/vmss-b", t0);
  q.add("sub2/vmss-c", t0);
  q.hold_group("sub1", t0 + 30s);
  EXPECT_EQ(q.due("sub1/vmss-a"), t0 + 30s);
  EXPECT_EQ(q.due("sub1/vmss-b"), t0 + 30s);
  EXPECT_EQ(q.due("sub2/vmss-c"), t0 + 1s);
  EXPECT_EQ(q.pop(t0 + 1s), std::optional<std::string>("sub2/vmss-c"));
  EXPECT_EQ(q.pop(t0 + 29s), std::nullopt);
  EXPECT_EQ(q.pop(t0 + 30s), std::optional<std::string>("sub1/vmss-a"));
}

TEST(WorkQueueGroups, AddsAndRequeuesDuringAHoldLandAtItsEnd) {
  WorkQueue q(grouped());
  q.add("sub1/vmss-a", t0);
  ASSERT_EQ(q.pop(t0 + 1s), std::optional<std::string>("sub1/vmss-a"));
  q.hold_group("sub1", t0 + 60s);
  q.add("sub1/vmss-b", t0 + 2s);
  EXPECT_EQ(q.due("sub1/vmss-b"), t0 + 60s);
  q.add("sub1/vmss-a", t0 + 2s);  // while processing: requeued when done
  ASSERT_TRUE(q.done("sub1/vmss-a", t0 + 3s, Outcome::success()));
  EXPECT_EQ(q.due("sub1/vmss-a"), t0 + 60s);
  // A shorter hold never brings keys forward; after the hold, adds are due as usual.
  q.hold_group("sub1", t0 + 10s);
  EXPECT_EQ(q.due("sub1/vmss-b"), t0 + 60s);
  ASSERT_TRUE(q.pop(t0 + 60s));
  ASSERT_TRUE(q.pop(t0 + 60s));
  q.add("sub1/vmss-d", t0 + 61s);
  EXPECT_EQ(q.due("sub1/vmss-d"), t0 + 62s);
}

TEST(WorkQueueGroups, WithoutGroupOfAHoldChangesNothing) {
  WorkQueue q(no_jitter());
  q.add("sub1/vmss-a", t0);
  q.hold_group("sub1", t0 + 30s);
  EXPECT_EQ(q.due("sub1/vmss-a"), t0 + 1s);
}

}  // namespace
}  // namespace podid::controller
