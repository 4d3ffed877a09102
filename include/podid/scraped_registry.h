// SPDX-License-Identifier: Apache-2.0
//
// The prometheus-cpp registry a binary's /metrics route serves, plus the one thing prometheus-cpp 1.0 lacks:
// values owned elsewhere and only worth reading when someone asks (the kernel's per-CPU counters, cache sizes,
// watch health) are copied into their series by hooks that run before each collection, in the order added.
//
//   podid::ScrapedRegistry registry;
//   auto& entries = prometheus::BuildGauge().Name("podid_token_cache_entries").Help("...").Register(registry).Add({});
//   registry.on_scrape([&entries, &cache] { entries.Set(static_cast<double>(cache.size())); });
//   std::string body = registry.serialize();   // text exposition 0.0.4, served with kContentType
//
// Everything else is prometheus::Registry, so BuildCounter()...Register(registry) takes it as it is.
// Thread-safe: scrapes are serialized, so a hook never runs twice at once. A hook must not throw (nothing on
// the scrape path does) nor scrape; what it captures must outlive the registry's last scrape.
#pragma once

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace podid {

class ScrapedRegistry : public prometheus::Registry {
 public:
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  void on_scrape(std::function<void()> hook);

  // Runs the hooks, then collects every family.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Collect(), as Prometheus text.
  std::string serialize() const;

 private:
  mutable std::mutex scrape_mutex_;  // held across a whole Collect(); never inside prometheus::Registry's lock
  std::vector<std::function<void()>> hooks_;  // guarded by scrape_mutex_
};

}  // namespace podid
