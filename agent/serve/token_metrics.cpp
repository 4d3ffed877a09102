// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_metrics.h"

#include <map>

namespace podid::agent {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// From 50 µs (a cache hit) to 10 s (a slow upstream).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// aad-pod-identity's buckets for its NMI histogram, kept for its dashboards.
const prometheus::Histogram::BucketBoundaries kNmiBuckets = {0.5, 1,  2,  3,  4,  5,  10, 15, 20,
                                                             25,  30, 40, 50, 60, 70, 80, 90, 100};
constexpr std::string_view kNmiOperation = "/metadata/identity/oauth2/token";

}  // namespace

TokenMetrics::TokenMetrics(ScrapedRegistry& registry)
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
      federated_failures_(BuildCounter().Name("podid_federated_failures_total")
                              .Help("Federated tokens refused or failed, by reason (docs/troubleshooting.md).")
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
                             .Register(registry).Add({})),
      replays_(BuildCounter().Name("podid_token_replays_total")
                   .Help("Token answers given again on the same connection to the same request, nothing they were "
                         "decided from having changed (also counted in podid_token_requests_total).")
                   .Register(registry).Add({})) {
  // The zero series exist from the start, so dashboards and alerts see them before the first event.
  for (auto reason : {"unknown_cgroup", "unknown_pod", "source_ip_mismatch", "too_many_connections"}) {
    fixed(resolution_failures_, "reason", resolution_failure_series_, reason);
  }
  for (auto result : {"forwarded", "blocked", "error"}) fixed(passthrough_, "result", passthrough_series_, result);
  for (auto reason : {"service_account_not_annotated", "federated_identity_invalid", "no_federated_credential",
                      "assertion_rejected", "issuer_metadata_unreachable", "unknown_client_id", "token_request_refused",
                      "token_request_unavailable", "token_request_credential_unavailable", "pod_gone"}) {
    fixed(federated_failures_, "reason", federated_failure_series_, reason);
  }
}

void TokenMetrics::federated_failure(std::string_view reason) {
  fixed(federated_failures_, "reason", federated_failure_series_, reason).Increment();
}

prometheus::Counter& TokenMetrics::fixed(prometheus::Family<prometheus::Counter>& family, const std::string& label,
                                         FixedSeries& held, std::string_view value) {
  for (auto& [v, counter] : held) {
    if (v == value) return *counter;
  }
  // A value not foreseen at start-up: counted all the same, and held from now on.
  auto& counter = family.Add({{label, std::string(value)}});
  held.emplace_back(std::string(value), &counter);
  return counter;
}

TokenMetrics::HeldSeries& TokenMetrics::series_for(const TokenRequestLabels& l, unsigned status) {
  auto pod = pods_.find(l.pod_uid);
  if (pod == pods_.end()) pod = pods_.emplace(std::string(l.pod_uid), std::vector<HeldSeries>{}).first;
  for (HeldSeries& held : pod->second) {
    if (held.matches(l, status)) return held;
  }
  // First request of this kind from this pod: find or create its series, once.
  HeldSeries held{.pod = std::string(l.pod), .identity = std::string(l.identity),
                  .resource = std::string(l.resource), .result = std::string(l.result),
                  .source = std::string(l.source), .status = status};
  held.requests = &requests_.Add({{"namespace", std::string(l.ns)},
                                  {"pod", held.pod},
                                  {"identity", held.identity},
                                  {"resource", held.resource},
                                  {"result", held.result},
                                  {"source", held.source}});
  held.latency = &latency_.Add({{"result", held.result}, {"source", held.source}}, kLatencyBuckets);
  held.nmi_latency = &nmi_latency_.Add({{"operation_type", std::string(kNmiOperation)},
                                        {"status_code", std::to_string(status)},
                                        {"namespace", std::string(l.ns)},
                                        {"resource", held.resource}},
                                       kNmiBuckets);
  ++holders_[held.requests];
  pod->second.push_back(std::move(held));
  return pod->second.back();
}

void TokenMetrics::token_request(const TokenRequestLabels& labels, std::chrono::nanoseconds latency,
                                 unsigned status) {
  const double seconds = std::chrono::duration<double>(latency).count();
  HeldSeries& held = series_for(labels, status);
  held.requests->Increment();
  held.latency->Observe(seconds);
  held.nmi_latency->Observe(seconds);
}

void TokenMetrics::pod_resolution_failure(std::string_view reason) {
  fixed(resolution_failures_, "reason", resolution_failure_series_, reason).Increment();
}

void TokenMetrics::upstream_request(std::string_view upstream, unsigned status) {
  // One per call to IMDS or Entra ID, which takes milliseconds: the label map is not worth holding.
  upstream_.Add({{"upstream", std::string(upstream)}, {"status", status ? std::to_string(status) : "error"}})
      .Increment();
}

void TokenMetrics::passthrough(std::string_view result) {
  fixed(passthrough_, "result", passthrough_series_, result).Increment();
}

void TokenMetrics::forget_pod(std::string_view pod_uid) {
  auto pod = pods_.find(pod_uid);
  if (pod == pods_.end()) return;
  for (const HeldSeries& held : pod->second) {
    auto holder = holders_.find(held.requests);
    if (holder != holders_.end() && --holder->second == 0) {
      holders_.erase(holder);
      requests_.Remove(held.requests);
    }
  }
  pods_.erase(pod);
}

size_t TokenMetrics::held_series(std::string_view pod_uid) const {
  auto pod = pods_.find(pod_uid);
  return pod == pods_.end() ? 0 : pod->second.size();
}

void TokenMetrics::track(std::function<TokenStackSnapshot()> snapshot) {
  registry_.on_scrape([this, snapshot = std::move(snapshot)] {
    TokenStackSnapshot s = snapshot();
    // Monotonic values owned elsewhere are exported as increments since the previous scrape.
    auto mirror = [this](prometheus::Counter& counter, const std::string& key, uint64_t now) {
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
