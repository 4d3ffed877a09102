// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_metrics.h"

#include <map>

#include "podid/metrics/builder.h"

namespace podid::agent {
namespace {

using metrics::BuildCounter;
using metrics::BuildGauge;
using metrics::BuildHistogram;

// From 50 µs (a cache hit) to 10 s (a slow upstream).
const metrics::Histogram::BucketBoundaries kLatencyBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// aad-pod-identity's buckets for its NMI histogram, kept for its dashboards.
const metrics::Histogram::BucketBoundaries kNmiBuckets = {0.5, 1,  2,  3,  4,  5,  10, 15, 20,
                                                          25,  30, 40, 50, 60, 70, 80, 90, 100};

std::string join(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto p : parts) {
    key.append(p);
    key.push_back('\0');
  }
  return key;
}

}  // namespace

TokenMetrics::TokenMetrics(metrics::Registry& registry)
    : registry_(registry),
      requests_(BuildCounter().Name("podid_token_requests_total")
                    .Help("Token requests by pod, identity (client id), resource, result and source.")
                    .Register(registry)),
      latency_(BuildHistogram().Name("podid_token_request_duration_seconds")
                   .Help("Time from a token request's arrival to its answer, by result and source.")
                   .Register(registry)),
      nmi_latency_(BuildHistogram().Name("aadpodidentity_nmi_operations_duration_seconds")
                       .Help("aad-pod-identity's NMI histogram, same name and labels, for existing dashboards.")
                       .Register(registry)),
      resolution_failures_(BuildCounter().Name("podid_pod_resolution_failures_total")
                               .Help("Connections or requests whose pod could not be established, by reason.")
                               .Register(registry)),
      upstream_(BuildCounter().Name("podid_upstream_requests_total")
                    .Help("Calls to the upstream IMDS or Entra ID, by upstream and HTTP status (error: no answer).")
                    .Register(registry)),
      passthrough_(BuildCounter().Name("podid_passthrough_requests_total")
                       .Help("Requests for other IMDS paths: forwarded, blocked by policy, or failed.")
                       .Register(registry)),
      cache_entries_(BuildGauge().Name("podid_token_cache_entries").Help("Tokens held in the cache.")
                         .Register(registry).Add({})),
      fetches_in_flight_(BuildGauge().Name("podid_token_fetches_in_flight")
                             .Help("Upstream token calls under way (each one coroutine, however many requests wait "
                                   "for it).")
                             .Register(registry).Add({})),
      cache_events_(BuildCounter().Name("podid_token_cache_events_total")
                        .Help("Token cache events: hit, miss, refresh, refresh_failure, coalesced, eviction...")
                        .Register(registry)),
      watch_connected_(BuildGauge().Name("podid_k8s_watch_connected")
                           .Help("1 while this list/watch of the Kubernetes API is healthy.").Register(registry)),
      watch_synced_(BuildGauge().Name("podid_k8s_watch_synced")
                        .Help("1 once this watch has listed at least once.").Register(registry)),
      watch_failures_(BuildCounter().Name("podid_k8s_watch_failures_total")
                          .Help("Failed lists or watches (transport errors, unexpected statuses).").Register(registry)),
      watch_relists_(BuildCounter().Name("podid_k8s_watch_relists_total")
                         .Help("Relists forced by 410 Gone (the watch fell behind compaction).").Register(registry)),
      api_reachable_(BuildGauge().Name("podid_k8s_api_reachable")
                         .Help("0 while any watch is failing: the agent serves from its last copy of the cluster.")
                         .Register(registry).Add({})),
      pods_known_(BuildGauge().Name("podid_pods_known").Help("Pods of this node known from the API.")
                      .Register(registry).Add({})),
      pod_cgroups_(BuildGauge().Name("podid_pod_cgroups")
                       .Help("cgroups known to belong to pods, by level (pod, container).").Register(registry)),
      identity_objects_(BuildGauge().Name("podid_identity_objects")
                            .Help("aadpodidentity.k8s.io objects in the agent's copy, by kind.").Register(registry)),
      identity_rejected_(BuildGauge().Name("podid_identity_objects_rejected")
                             .Help("aadpodidentity.k8s.io objects skipped as invalid (see the agent's log).")
                             .Register(registry).Add({})) {
  // The zero series exist from the start, so dashboards and alerts see them before the first event.
  for (auto reason : {"unknown_cgroup", "unknown_pod", "source_ip_mismatch", "too_many_connections"}) {
    resolution_failures_.Add({{"reason", reason}});
  }
  for (auto result : {"forwarded", "blocked", "error"}) passthrough_.Add({{"result", result}});
}

metrics::Counter& TokenMetrics::counter_for(const TokenRequestLabels& l) {
  const bool known_pod = !l.ns.empty() || !l.pod.empty();
  const std::string_view uid = known_pod ? l.pod_uid : std::string_view();
  std::string key = join({uid, l.ns, l.pod, l.identity, l.resource, l.result, l.source});
  if (auto it = request_series_.find(key); it != request_series_.end()) return *it->second;
  auto [series, created] = series_by_labels_.try_emplace(key.substr(uid.size() + 1));
  if (created) {
    series->second.counter = &requests_.Add({{"namespace", std::string(l.ns)},
                                             {"pod", std::string(l.pod)},
                                             {"identity", std::string(l.identity)},
                                             {"resource", std::string(l.resource)},
                                             {"result", std::string(l.result)},
                                             {"source", std::string(l.source)}});
  }
  metrics::Counter& counter = *series->second.counter;
  if (known_pod) {
    ++series->second.holders;
    series_of_pod_[std::string(uid)].push_back(key);
  }
  request_series_.emplace(std::move(key), &counter);
  return counter;
}

metrics::Histogram& TokenMetrics::latency_for(std::string_view result, std::string_view source) {
  std::string key = join({result, source});
  if (auto it = latency_series_.find(key); it != latency_series_.end()) return *it->second;
  auto& h = latency_.Add({{"result", std::string(result)}, {"source", std::string(source)}}, kLatencyBuckets);
  latency_series_.emplace(std::move(key), &h);
  return h;
}

void TokenMetrics::token_request(const TokenRequestLabels& labels, std::chrono::nanoseconds latency,
                                 unsigned status) {
  double seconds = std::chrono::duration<double>(latency).count();
  counter_for(labels).Increment();
  latency_for(labels.result, labels.source).Observe(seconds);
  std::string code = std::to_string(status);
  std::string key = join({code, labels.ns, labels.resource});
  auto it = nmi_series_.find(key);
  if (it == nmi_series_.end()) {
    auto& h = nmi_latency_.Add({{"operation_type", "/metadata/identity/oauth2/token"},
                                {"status_code", code},
                                {"namespace", std::string(labels.ns)},
                                {"resource", std::string(labels.resource)}},
                               kNmiBuckets);
    it = nmi_series_.emplace(std::move(key), &h).first;
  }
  it->second->Observe(seconds);
}

void TokenMetrics::pod_resolution_failure(std::string_view reason) {
  resolution_failures_.Add({{"reason", std::string(reason)}}).Increment();
}

void TokenMetrics::upstream_request(std::string_view upstream, unsigned status) {
  upstream_.Add({{"upstream", std::string(upstream)}, {"status", status ? std::to_string(status) : "error"}})
      .Increment();
}

void TokenMetrics::passthrough(std::string_view result) {
  passthrough_.Add({{"result", std::string(result)}}).Increment();
}

void TokenMetrics::forget_pod(const std::string& pod_uid) {
  if (pod_uid.empty()) return;  // "" holds the series of no known pod, which stay
  auto it = series_of_pod_.find(pod_uid);
  if (it == series_of_pod_.end()) return;
  for (const auto& key : it->second) {
    request_series_.erase(key);
    auto series = series_by_labels_.find(key.substr(pod_uid.size() + 1));
    if (series != series_by_labels_.end() && --series->second.holders == 0) {
      requests_.Remove(series->second.counter);
      series_by_labels_.erase(series);
    }
  }
  series_of_pod_.erase(it);
}

void TokenMetrics::track(std::function<TokenPathSnapshot()> snapshot) {
  registry_.AddCollectCallback([this, snapshot = std::move(snapshot)] {
    TokenPathSnapshot s = snapshot();
    // Monotonic values owned elsewhere are exported as increments since the previous scrape.
    auto mirror = [this](metrics::Counter& counter, const std::string& key, uint64_t now) {
      uint64_t& last = mirrored_[key];
      if (now > last) counter.Increment(static_cast<double>(now - last));
      last = now;
    };
    cache_entries_.Set(static_cast<double>(s.cache_entries));
    fetches_in_flight_.Set(static_cast<double>(s.fetches_in_flight));
    for (const auto& [event, value] : s.cache_events) {
      mirror(cache_events_.Add({{"event", event}}), "cache/" + event, value);
    }
    // Watches of one name (every watched Secret is "secret") are summed: Secret names are not for metrics.
    struct Sum {
      bool connected = true, synced = true;
      uint64_t failures = 0, relists = 0;
    };
    std::map<std::string, Sum> by_name;
    for (const auto& [name, st] : s.watches) {
      Sum& sum = by_name[name];
      sum.connected = sum.connected && st.connected;
      sum.synced = sum.synced && st.synced;
      sum.failures += st.failures;
      sum.relists += st.relists_gone;
    }
    bool all_connected = true;
    for (const auto& [name, sum] : by_name) {
      watch_connected_.Add({{"watch", name}}).Set(sum.connected ? 1 : 0);
      watch_synced_.Add({{"watch", name}}).Set(sum.synced ? 1 : 0);
      mirror(watch_failures_.Add({{"watch", name}}), "failures/" + name, sum.failures);
      mirror(watch_relists_.Add({{"watch", name}}), "relists/" + name, sum.relists);
      all_connected = all_connected && sum.connected;
    }
    api_reachable_.Set(all_connected ? 1 : 0);
    pods_known_.Set(static_cast<double>(s.pods_known));
    pod_cgroups_.Add({{"level", "pod"}}).Set(static_cast<double>(s.pod_cgroups));
    pod_cgroups_.Add({{"level", "container"}}).Set(static_cast<double>(s.container_cgroups));
    for (const auto& [kind, n] : s.identity_objects) identity_objects_.Add({{"kind", kind}}).Set(static_cast<double>(n));
    identity_rejected_.Set(static_cast<double>(s.identity_objects_rejected));
  });
}

}  // namespace podid::agent
