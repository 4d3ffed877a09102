// SPDX-License-Identifier: Apache-2.0
//
// The token path's metrics, registered in the agent's registry:
//
//   podid_token_requests_total{namespace,pod,identity,resource,result,source}
//        token requests by pod and outcome; a pod's series go away with the pod
//   podid_token_request_duration_seconds{result,source}         answer latency, microseconds to seconds
//   aadpodidentity_nmi_operations_duration_seconds{operation_type,status_code,namespace,resource}
//        the predecessor's name and labels (operation_type is the fixed token path, not the raw URL path,
//        whose cardinality was unbounded there), its buckets, so existing dashboards keep working
//   podid_pod_resolution_failures_total{reason}                 unknown_cgroup, unknown_pod,
//                                                                source_ip_mismatch, too_many_connections
//   podid_upstream_requests_total{upstream,status}              calls the cache made: imds or entra, HTTP
//                                                                status or "error"
//   podid_passthrough_requests_total{result}                    other IMDS paths: forwarded, blocked, error
//   podid_token_cache_entries, podid_token_cache_events_total{event}
//   podid_token_fetches_in_flight                               upstream calls under way (one coroutine each)
//   podid_k8s_watch_connected{watch}, podid_k8s_watch_synced{watch}, podid_k8s_watch_failures_total{watch},
//   podid_k8s_watch_relists_total{watch}
//   podid_k8s_api_reachable                                     0 while any watch is failing: the agent is
//                                                                serving from its last copy
//   podid_pods_known, podid_pod_cgroups{level}, podid_identity_objects{kind}, podid_identity_objects_rejected
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "podid/k8s/reflector.h"
#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"
#include "podid/metrics/registry.h"

namespace podid::agent {

struct TokenRequestLabels {
  std::string_view ns, pod, pod_uid, identity, resource, result, source;
};

// What the agent's components report at each scrape.
struct TokenPathSnapshot {
  size_t cache_entries = 0;
  size_t fetches_in_flight = 0;
  std::vector<std::pair<std::string, uint64_t>> cache_events;  // monotonic: hits, misses, refreshes...
  std::vector<std::pair<std::string, k8s::ReflectorStats>> watches;
  size_t pods_known = 0;
  size_t pod_cgroups = 0, container_cgroups = 0;
  std::vector<std::pair<std::string, size_t>> identity_objects;  // kind -> count
  size_t identity_objects_rejected = 0;
};

class TokenMetrics {
 public:
  explicit TokenMetrics(metrics::Registry& registry);

  void token_request(const TokenRequestLabels& labels, std::chrono::nanoseconds latency, unsigned status);
  void pod_resolution_failure(std::string_view reason);
  void upstream_request(std::string_view upstream, unsigned status);
  void passthrough(std::string_view result);

  // Drops every series of this pod (its token requests).
  void forget_pod(const std::string& pod_uid);

  // Refreshes the gauges and counters that mirror other components, at every scrape.
  void track(std::function<TokenPathSnapshot()> snapshot);

 private:
  metrics::Counter& counter_for(const TokenRequestLabels& labels);
  metrics::Histogram& latency_for(std::string_view result, std::string_view source);

  metrics::Registry& registry_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Family<metrics::Histogram>& nmi_latency_;
  metrics::Family<metrics::Counter>& resolution_failures_;
  metrics::Family<metrics::Counter>& upstream_;
  metrics::Family<metrics::Counter>& passthrough_;
  metrics::Gauge& cache_entries_;
  metrics::Gauge& fetches_in_flight_;
  metrics::Family<metrics::Counter>& cache_events_;
  metrics::Family<metrics::Gauge>& watch_connected_;
  metrics::Family<metrics::Gauge>& watch_synced_;
  metrics::Family<metrics::Counter>& watch_failures_;
  metrics::Family<metrics::Counter>& watch_relists_;
  metrics::Gauge& api_reachable_;
  metrics::Gauge& pods_known_;
  metrics::Family<metrics::Gauge>& pod_cgroups_;
  metrics::Family<metrics::Gauge>& identity_objects_;
  metrics::Gauge& identity_rejected_;

  // A series of podid_token_requests_total and how many pod UIDs count in it. Series are named by their labels,
  // not by UID, so UIDs can share one: a pod recreated under the same name has its predecessor's labels. It goes
  // when the last of them is forgotten. Requests of no known pod (namespace and pod empty) count in series no
  // UID holds, kept for the agent's life: a UID forgetting them would free a counter other UIDs still use.
  struct RequestSeries {
    metrics::Counter* counter = nullptr;
    size_t holders = 0;
  };
  // Hot path: a request finds its series without building a label map, keyed by its pod's UID ("" for no known
  // pod) and its labels, joined with '\0'; the labels alone (the key without the UID) name the series below.
  std::unordered_map<std::string, metrics::Counter*> request_series_;
  std::unordered_map<std::string, RequestSeries> series_by_labels_;
  std::unordered_map<std::string, std::vector<std::string>> series_of_pod_;  // uid -> its keys above
  std::unordered_map<std::string, metrics::Histogram*> latency_series_;
  std::unordered_map<std::string, metrics::Histogram*> nmi_series_;
  std::unordered_map<std::string, uint64_t> mirrored_;  // last value of each mirrored monotonic counter
};

}  // namespace podid::agent
