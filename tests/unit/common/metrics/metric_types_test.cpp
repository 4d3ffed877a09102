// SPDX-License-Identifier: Apache-2.0
// Counter, Gauge and Histogram on their own: arithmetic, bad input, and exact totals under contention.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <latch>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "podid/metrics/counter.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"

namespace podid::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(MetricsCounterTest, IncrementsByOneAndByAmount) {
  Counter counter;
  EXPECT_EQ(counter.Value(), 0.0);
  counter.Increment();
  counter.Increment(2.5);
  EXPECT_EQ(counter.Value(), 3.5);
  EXPECT_EQ(counter.Collect().counter.value, 3.5);
}

TEST(MetricsCounterTest, IgnoresNegativeAndNaNAmounts) {
  Counter counter;
  counter.Increment(4);
  counter.Increment(-1);
  counter.Increment(kNaN);
  EXPECT_EQ(counter.Value(), 4.0);
}

TEST(MetricsGaugeTest, MovesBothWays) {
  Gauge gauge{10};
  gauge.Increment();
  gauge.Increment(5);
  gauge.Decrement();
  gauge.Decrement(2.5);
  EXPECT_EQ(gauge.Value(), 12.5);
  gauge.Set(-3);
  EXPECT_EQ(gauge.Value(), -3.0);
  EXPECT_EQ(gauge.Collect().gauge.value, -3.0);
}

TEST(MetricsGaugeTest, SetToCurrentTimeUsesEpochSeconds) {
  Gauge gauge;
  const auto before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  gauge.SetToCurrentTime();
  const auto after = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GE(gauge.Value(), before);
  EXPECT_LE(gauge.Value(), after);
}

TEST(MetricsHistogramTest, BucketsAreCumulativeAndInclusive) {
  Histogram histogram{{1, 2, 5}};
  for (double value : {0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0}) {
    histogram.Observe(value);
  }
  const auto snapshot = histogram.Collect().histogram;
  ASSERT_EQ(snapshot.bucket.size(), 4u);
  const double bounds[] = {1, 2, 5, kInf};
  const std::uint64_t cumulative[] = {2, 4, 6, 7};  // 1.0 counts in le="1", 2.0 in le="2", 5.0 in le="5"
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(snapshot.bucket[i].upper_bound, bounds[i]) << i;
    EXPECT_EQ(snapshot.bucket[i].cumulative_count, cumulative[i]) << i;
  }
  EXPECT_EQ(snapshot.sample_count, 7u);
  EXPECT_EQ(snapshot.sample_sum, 20.0);
}

TEST(MetricsHistogramTest, NaNLandsInInfBucketOnly) {
  Histogram histogram{{1}};
  histogram.Observe(kNaN);
  const auto snapshot = histogram.Collect().histogram;
  EXPECT_EQ(snapshot.bucket[0].cumulative_count, 0u);
  EXPECT_EQ(snapshot.bucket[1].cumulative_count, 1u);
  EXPECT_TRUE(std::isnan(snapshot.sample_sum));
}

TEST(MetricsHistogramTest, NoBoundsMeansOnlyInf) {
  Histogram histogram{{}};
  histogram.Observe(-100);
  const auto snapshot = histogram.Collect().histogram;
  ASSERT_EQ(snapshot.bucket.size(), 1u);
  EXPECT_EQ(snapshot.bucket[0].upper_bound, kInf);
  EXPECT_EQ(snapshot.bucket[0].cumulative_count, 1u);
}

TEST(MetricsHistogramTest, TrailingInfBoundIsDropped) {
  Histogram histogram{{0.5, kInf}};
  EXPECT_EQ(histogram.Collect().histogram.bucket.size(), 2u);
}

TEST(MetricsHistogramTest, RejectsBadBounds) {
  using Bounds = Histogram::BucketBoundaries;
  EXPECT_THROW(Histogram(Bounds{1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram(Bounds{2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram(Bounds{1, kNaN}), std::invalid_argument);
  EXPECT_THROW(Histogram(Bounds{1, kInf, kInf}), std::invalid_argument);
  EXPECT_THROW(Histogram(Bounds{kInf, 1}), std::invalid_argument);
}

// Every update must land: a lost CAS or an unlocked bucket would show as a short total.
TEST(MetricsConcurrencyTest, ParallelUpdatesAreExact) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  Counter counter;
  Gauge gauge;
  Histogram histogram{{0.5}};
  std::latch start{kThreads};  // without it, threads mostly run one after another and races hide
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        counter.Increment();
        gauge.Increment(t % 2 == 0 ? 2.0 : -1.0);
        histogram.Observe(t % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(counter.Value(), double{kThreads} * kPerThread);
  EXPECT_EQ(gauge.Value(), double{kThreads / 2} * kPerThread);
  const auto snapshot = histogram.Collect().histogram;
  EXPECT_EQ(snapshot.sample_count, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snapshot.bucket[0].cumulative_count, std::uint64_t{kThreads / 2} * kPerThread);
  EXPECT_EQ(snapshot.sample_sum, (0.25 + 1.0) * (kThreads / 2) * kPerThread);
}

}  // namespace
}  // namespace podid::metrics
