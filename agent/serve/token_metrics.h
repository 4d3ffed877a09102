// SPDX-License-Identifier: Apache-2.0
//
// The token stack's metrics (agent/serve/token_stack.h), registered in the agent's registry:
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
//   podid_federated_failures_total{reason}                      federated tokens refused or failed, by reason
//                                                                (no_federated_credential, token_request_refused...)
//   podid_token_cache_entries, podid_token_fetches_in_flight, podid_token_cache_events_total{event}
//   podid_k8s_watch_connected{watch}, podid_k8s_watch_synced{watch}, podid_k8s_watch_failures_total{watch},
//   podid_k8s_watch_relists_total{watch}
//   podid_k8s_api_reachable                                     0 while any watch is failing: the agent is
//                                                                serving from its last copy
//   podid_pods_known, podid_pod_cgroups{level}, podid_identity_objects{kind}, podid_identity_objects_rejected
//
// The hot path: a token request counts on series this class holds for its pod (found by the pod's UID, then a
// few string comparisons), never on a label map built and hashed per request. Its first request of a kind
// creates them.
//
// Single-threaded: called on the agent's io thread, as the ImdsService is; scrapes read the series' atomics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podid/k8s/reflector.h"
#include "podid/scraped_registry.h"

namespace podid::agent {

struct TokenRequestLabels {
  std::string_view ns, pod, pod_uid, identity, resource, result, source;
};

// What the agent's components report at each scrape.
struct TokenStackSnapshot {
  size_t cache_entries = 0;
  size_t fetches_in_flight = 0;  // upstream token calls under way
  std::vector<std::pair<std::string, uint64_t>> cache_events;  // monotonic: hits, misses, refreshes...
  std::vector<std::pair<std::string, k8s::ReflectorStats>> watches;
  size_t pods_known = 0;
  size_t pod_cgroups = 0, container_cgroups = 0;
  std::vector<std::pair<std::string, size_t>> identity_objects;  // kind -> count
  size_t identity_objects_rejected = 0;
};

class TokenMetrics {
 public:
  explicit TokenMetrics(ScrapedRegistry& registry);

  void token_request(const TokenRequestLabels& labels, std::chrono::nanoseconds latency, unsigned status);
  void pod_resolution_failure(std::string_view reason);
  void upstream_request(std::string_view upstream, unsigned status);
  void passthrough(std::string_view result);
  void federated_failure(std::string_view reason);
  // A token answer given again on its connection without deciding again (agent/serve/token_replay.h); it is
  // also counted by token_request as the decision it repeats.
  void replayed() { replays_.Increment(); }

  // Drops every series of this pod (its token requests).
  void forget_pod(std::string_view pod_uid);

  // Refreshes the gauges and counters that mirror other components, at every scrape.
  void track(std::function<TokenStackSnapshot()> snapshot);

  // Series held for pods, for tests: how many kinds of request this pod has made.
  size_t held_series(std::string_view pod_uid) const;

 private:
  // The series one kind of request from one pod counts on. The request counter is the pod's own; the two
  // histograms are shared with other pods.
  struct HeldSeries {
    std::string pod, identity, resource, result, source;
    unsigned status = 0;
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* latency = nullptr;
    prometheus::Histogram* nmi_latency = nullptr;

    bool matches(const TokenRequestLabels& l, unsigned s) const {
      return status == s && result == l.result && source == l.source && resource == l.resource &&
             identity == l.identity && pod == l.pod;
    }
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // A fixed label value (a reason, a result) and its series, created at start-up.
  using FixedSeries = std::vector<std::pair<std::string, prometheus::Counter*>>;

  HeldSeries& series_for(const TokenRequestLabels& labels, unsigned status);
  static prometheus::Counter& fixed(prometheus::Family<prometheus::Counter>& family, const std::string& label,
                                    FixedSeries& held, std::string_view value);

  ScrapedRegistry& registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Histogram>& nmi_latency_;
  prometheus::Family<prometheus::Counter>& resolution_failures_;
  prometheus::Family<prometheus::Counter>& upstream_;
  prometheus::Family<prometheus::Counter>& passthrough_;
  prometheus::Family<prometheus::Counter>& federated_failures_;
  prometheus::Gauge& cache_entries_;
  prometheus::Gauge& fetches_in_flight_;
  prometheus::Family<prometheus::Counter>& cache_events_;
  prometheus::Family<prometheus::Gauge>& watch_connected_;
  prometheus::Family<prometheus::Gauge>& watch_synced_;
  prometheus::Family<prometheus::Counter>& watch_failures_;
  prometheus::Family<prometheus::Counter>& watch_relists_;
  prometheus::Gauge& api_reachable_;
  prometheus::Gauge& pods_known_;
  prometheus::Family<prometheus::Gauge>& pod_cgroups_;
  prometheus::Family<prometheus::Gauge>& identity_objects_;
  prometheus::Gauge& identity_rejected_;
  prometheus::Counter& replays_;

  FixedSeries resolution_failure_series_;
  FixedSeries passthrough_series_;
  FixedSeries federated_failure_series_;
  std::unordered_map<std::string, std::vector<HeldSeries>, StringHash, std::equal_to<>> pods_;  // by pod UID
  // How many held series point at each request counter: a pod deleted and created again under the same name
  // (a StatefulSet's) shares its series with the new UID until both are gone.
  std::unordered_map<prometheus::Counter*, unsigned> holders_;
  std::unordered_map<std::string, uint64_t> mirrored_;  // last value of each mirrored monotonic counter
};

}  // namespace podid::agent
