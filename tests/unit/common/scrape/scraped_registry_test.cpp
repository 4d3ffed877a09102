// SPDX-License-Identifier: Apache-2.0
#include "podid/scraped_registry.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using podid::ScrapedRegistry;

double value_of(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name && !f.metric.empty()) return f.metric.front().gauge.value;
  }
  ADD_FAILURE() << name << " not collected";
  return -1;
}

TEST(ScrapedRegistry, HooksSetValuesBeforeEachCollection) {
  ScrapedRegistry registry;
  auto& size = prometheus::BuildGauge().Name("podid_test_cache_entries").Help("Entries.").Register(registry).Add({});
  int cache_size = 3;
  registry.on_scrape([&] { size.Set(cache_size); });

  EXPECT_EQ(value_of(registry.Collect(), "podid_test_cache_entries"), 3);
  cache_size = 7;
  EXPECT_EQ(value_of(registry.Collect(), "podid_test_cache_entries"), 7);
}

TEST(ScrapedRegistry, HooksRunInTheOrderAdded) {
  ScrapedRegistry registry;
  std::string order;
  registry.on_scrape([&] { order += "a"; });
  registry.on_scrape([&] { order += "b"; });
  registry.Collect();
  registry.Collect();
  EXPECT_EQ(order, "abab");
}

TEST(ScrapedRegistry, AHookMayCreateSeriesThatTheSameScrapeShows) {
  ScrapedRegistry registry;
  auto& watches = prometheus::BuildGauge().Name("podid_test_watch_synced").Help("Synced.").Register(registry);
  registry.on_scrape([&] { watches.Add({{"watch", "pods"}}).Set(1); });
  EXPECT_NE(registry.serialize().find("podid_test_watch_synced{watch=\"pods\"} 1\n"), std::string::npos)
      << registry.serialize();
}

TEST(ScrapedRegistry, SerializesPrometheusText) {
  ScrapedRegistry registry;
  auto& requests = prometheus::BuildCounter().Name("podid_test_requests_total").Help("Requests.").Register(registry);
  requests.Add({{"result", "served"}}).Increment(2);
  requests.Add({{"result", "quote\"back\\slash"}}).Increment();
  const std::string text = registry.serialize();
  EXPECT_NE(text.find("# HELP podid_test_requests_total Requests.\n# TYPE podid_test_requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("podid_test_requests_total{result=\"served\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("podid_test_requests_total{result=\"quote\\\"back\\\\slash\"} 1\n"), std::string::npos) << text;
}

TEST(ScrapedRegistry, ConcurrentScrapesNeverRunAHookTwiceAtOnce) {
  ScrapedRegistry registry;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  int runs = 0;  // written only inside the hook: a data race (and a wrong count) if hooks overlapped
  registry.on_scrape([&] {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    ++runs;
    std::this_thread::yield();
    inside.fetch_sub(1);
  });
  std::vector<std::thread> scrapers;
  for (int t = 0; t < 4; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) registry.Collect();
    });
  }
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(runs, 800);
}

}  // namespace
