// SPDX-License-Identifier: Apache-2.0
//
// Owns every metric family of a process and snapshots them for a scrape. Thread-safe.
//
// Registration follows prometheus-cpp's InsertBehavior::Merge: adding a name again with the same type and the
// same constant labels returns the existing family (its first help text wins), so two components can declare
// the same metric. Anything else that would put two TYPE lines or two families behind one name in the
// exposition throws std::invalid_argument at registration: the same name with another type or other constant
// labels (prometheus-cpp would accept the latter and emit an exposition Prometheus rejects), or a name that
// collides with a histogram's _bucket/_sum/_count series.
//
// Values computed at scrape time (say, the sum of a BPF per-CPU counter) come from collect callbacks:
//   auto& drops = BuildGauge().Name("podid_bpf_drops").Help("...").Register(registry).Add({});
//   registry.AddCollectCallback([&drops, &map] { drops.Set(sum_per_cpu(map)); });
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "podid/metrics/collectable.h"
#include "podid/metrics/metric_family.h"

namespace podid::metrics {

template <typename T>
class Family;

class Registry : public Collectable {
 public:
  Registry();
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Usually reached through BuildCounter() / BuildGauge() / BuildHistogram(). T is Counter, Gauge or
  // Histogram. Throws std::invalid_argument as described above. The family lives as long as the registry.
  template <typename T>
  Family<T>& Add(const std::string& name, const std::string& help, const Labels& constant_labels);

  // Runs at the start of every Collect(), before any value is read, in the order added. A callback updates
  // metrics it owns (Set a gauge, Add a series); it may register families but must not throw, and must not
  // call Collect(). Callbacks live as long as the registry, so what they capture must too.
  void AddCollectCallback(std::function<void()> callback);

  // Runs the callbacks, then snapshots every family, sorted by name. Concurrent scrapes are serialized so
  // callbacks never run twice at once.
  std::vector<MetricFamily> Collect() const override;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Collectable> family;
  };

  // Throws if a family of another name/type already owns one of the series names `name` would emit.
  void check_collisions(const std::string& name, MetricType type) const;

  mutable std::mutex collect_mutex_;  // held across a whole Collect(); never taken while holding mutex_
  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;         // guarded by mutex_; a std::map so output is sorted
  std::vector<std::function<void()>> callbacks_;  // guarded by mutex_
};

}  // namespace podid::metrics
