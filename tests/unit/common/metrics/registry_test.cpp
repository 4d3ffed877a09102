// SPDX-License-Identifier: Apache-2.0
// Family and Registry: series identity, removal, name rules, registration conflicts, collect callbacks.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "podid/metrics/check_names.h"
#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"
#include "podid/metrics/registry.h"

namespace podid::metrics {
namespace {

TEST(MetricsFamilyTest, SameLabelsGiveSameObject) {
  Registry registry;
  auto& family = BuildCounter().Name("podid_requests_total").Help("h").Register(registry);
  auto& a = family.Add({{"pod", "a"}, {"outcome", "ok"}});
  auto& b = family.Add({{"outcome", "ok"}, {"pod", "a"}});
  auto& other = family.Add({{"pod", "b"}, {"outcome", "ok"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  // References survive many later insertions (the series map may rebalance, the objects must not move).
  for (int i = 0; i < 1000; ++i) {
    family.Add({{"pod", "p" + std::to_string(i)}, {"outcome", "ok"}});
  }
  a.Increment();
  EXPECT_EQ(family.Add({{"pod", "a"}, {"outcome", "ok"}}).Value(), 1.0);
}

TEST(MetricsFamilyTest, RemoveAndHas) {
  Registry registry;
  auto& family = BuildGauge().Name("podid_pods").Help("h").Register(registry);
  auto& gauge = family.Add({{"node", "n1"}});
  gauge.Set(3);
  EXPECT_TRUE(family.Has({{"node", "n1"}}));
  family.Remove(&gauge);
  EXPECT_FALSE(family.Has({{"node", "n1"}}));
  family.Remove(&gauge);  // already gone: ignored
  family.Remove(nullptr);
  EXPECT_EQ(family.Add({{"node", "n1"}}).Value(), 0.0);  // a fresh series, not the removed one
  EXPECT_EQ(family.Collect().front().metric.size(), 1u);
}

TEST(MetricsFamilyTest, HistogramKeepsFirstBuckets) {
  Registry registry;
  auto& family = BuildHistogram().Name("podid_latency_seconds").Help("h").Register(registry);
  auto& first = family.Add({}, Histogram::BucketBoundaries{1, 2});
  auto& again = family.Add({}, Histogram::BucketBoundaries{5});
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(first.Collect().histogram.bucket.size(), 3u);
}

TEST(MetricsNamesTest, MetricNames) {
  for (const char* good : {"a", "_a", "a:b", "podid_x_total", "A9_:z"}) {
    EXPECT_TRUE(CheckMetricName(good)) << good;
  }
  for (const char* bad : {"", "9a", "a-b", "a b", "__reserved", "a.b", "é"}) {
    EXPECT_FALSE(CheckMetricName(bad)) << bad;
  }
}

TEST(MetricsNamesTest, LabelNames) {
  for (const char* good : {"a", "_a", "pod_name", "A9"}) {
    EXPECT_TRUE(CheckLabelName(good, MetricType::Counter)) << good;
  }
  for (const char* bad : {"", "9a", "a:b", "a-b", "__name__"}) {
    EXPECT_FALSE(CheckLabelName(bad, MetricType::Counter)) << bad;
  }
  EXPECT_TRUE(CheckLabelName("le", MetricType::Gauge));
  EXPECT_FALSE(CheckLabelName("le", MetricType::Histogram));
}

TEST(MetricsRegistryTest, RejectsInvalidNamesAtRegistration) {
  Registry registry;
  EXPECT_THROW(BuildCounter().Name("bad-name").Register(registry), std::invalid_argument);
  EXPECT_THROW(BuildCounter().Name("").Register(registry), std::invalid_argument);
  EXPECT_THROW(BuildGauge().Name("g").Labels({{"bad-label", "v"}}).Register(registry), std::invalid_argument);
  EXPECT_THROW(BuildHistogram().Name("h").Labels({{"le", "1"}}).Register(registry), std::invalid_argument);
  // A rejected registration leaves nothing behind.
  EXPECT_TRUE(registry.Collect().empty());
  EXPECT_NO_THROW(BuildCounter().Name("bad").Register(registry));  // and the registry still works
}

TEST(MetricsRegistryTest, RejectsInvalidLabelsAtAdd) {
  Registry registry;
  auto& counter = BuildCounter().Name("c_total").Labels({{"node", "n"}}).Register(registry);
  EXPECT_THROW(counter.Add({{"0pod", "x"}}), std::invalid_argument);
  EXPECT_THROW(counter.Add({{"node", "again"}}), std::invalid_argument);
  auto& histogram = BuildHistogram().Name("h_seconds").Register(registry);
  EXPECT_THROW(histogram.Add({{"le", "1"}}, Histogram::BucketBoundaries{1}), std::invalid_argument);
  EXPECT_THROW(histogram.Add({}, Histogram::BucketBoundaries{2, 1}), std::invalid_argument);
  EXPECT_FALSE(counter.Has({{"0pod", "x"}}));
  EXPECT_FALSE(histogram.Has({}));
}

TEST(MetricsRegistryTest, SameNameSameTypeMerges) {
  Registry registry;
  auto& first = BuildCounter().Name("x_total").Help("first").Labels({{"a", "1"}}).Register(registry);
  auto& second = BuildCounter().Name("x_total").Help("second").Labels({{"a", "1"}}).Register(registry);
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(second.GetHelp(), "first");
}

TEST(MetricsRegistryTest, RejectsConflictingRegistrations) {
  Registry registry;
  BuildCounter().Name("x_total").Labels({{"a", "1"}}).Register(registry);
  EXPECT_THROW(BuildGauge().Name("x_total").Register(registry), std::invalid_argument);
  EXPECT_THROW(BuildCounter().Name("x_total").Labels({{"a", "2"}}).Register(registry), std::invalid_argument);

  // A histogram's derived series names are taken too, in both orders of registration.
  BuildHistogram().Name("rtt").Register(registry);
  EXPECT_THROW(BuildCounter().Name("rtt_count").Register(registry), std::invalid_argument);
  EXPECT_THROW(BuildGauge().Name("rtt_bucket").Register(registry), std::invalid_argument);
  BuildGauge().Name("lat_sum").Register(registry);
  EXPECT_THROW(BuildHistogram().Name("lat").Register(registry), std::invalid_argument);
  EXPECT_NO_THROW(BuildGauge().Name("rtt_total").Register(registry));
}

TEST(MetricsRegistryTest, CollectSortsFamiliesByName) {
  Registry registry;
  for (const char* name : {"zeta", "alpha", "mid"}) {
    BuildGauge().Name(name).Register(registry).Add({});
  }
  const auto families = registry.Collect();
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "alpha");
  EXPECT_EQ(families[1].name, "mid");
  EXPECT_EQ(families[2].name, "zeta");
}

TEST(MetricsRegistryTest, CallbacksRunBeforeEverySnapshot) {
  Registry registry;
  auto& gauge = BuildGauge().Name("podid_bpf_drops").Register(registry).Add({});
  int calls = 0;
  registry.AddCollectCallback([&] { gauge.Set(++calls * 10); });
  // A callback may register families and series of its own without deadlocking.
  registry.AddCollectCallback([&] { BuildCounter().Name("late_total").Register(registry).Add({}).Increment(); });

  auto families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "late_total");
  EXPECT_EQ(families[0].metric.at(0).counter.value, 1.0);
  EXPECT_EQ(families[1].metric.at(0).gauge.value, 10.0);
  families = registry.Collect();
  EXPECT_EQ(families[1].metric.at(0).gauge.value, 20.0);
  EXPECT_EQ(calls, 2);
}

TEST(MetricsRegistryTest, ConcurrentAddAndScrape) {
  Registry registry;
  auto& family = BuildCounter().Name("hits_total").Register(registry);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        family.Add({{"series", std::to_string(i % 50)}}).Increment();
        if (t == 0 && i % 100 == 0) {
          registry.Collect();
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const auto families = registry.Collect();
  ASSERT_EQ(families.at(0).metric.size(), 50u);
  double total = 0;
  for (const auto& metric : families[0].metric) {
    total += metric.counter.value;
  }
  EXPECT_EQ(total, 8000.0);
}

}  // namespace
}  // namespace podid::metrics
