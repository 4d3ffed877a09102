// SPDX-License-Identifier: Apache-2.0
//
// Every metric podid-agent exports, in one place, so names and labels are defined once. New metrics are
// under podid_ (aad-pod-identity's own names come with the token path, which reuses them where they exist).
//
//   podid_agent_connections_total{outcome}          accepted redirect connections: attributed, or the refusal
//   podid_agent_http_refusals_total{listener,reason} requests the HTTP server refused on its own (malformed,
//                                                   over a limit) and sessions that ended in an exception
//   podid_agent_internal_errors_total               exceptions that reached the agent's event loop (a bug; serving goes on)
//   podid_agent_http_sessions{state}                connections served now: open (one coroutine each), busy (a
//                                                   request read, its answer not written yet)
//   podid_bpf_datapath_total{outcome}               kernel counters (stats map): redirect, deny_port, egress_drop...
//   podid_bpf_deny_events_total{reason,hook}        audit events read from the ring buffer
//   podid_bpf_programs_attached                     1 while the watchdog finds every pinned link holding our program
//   podid_bpf_watchdog_failures_total               watchdog checks that found a link missing or swapped
//   podid_bpf_stats_read_errors_total               failed reads of the stats map
#pragma once

#include <functional>
#include <string>

#include "agent/bpf/imds_redirect_attributor.h"
#include "agent/bpf/imds_redirect_probe.h"
#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/registry.h"

namespace podid::agent {

class AgentMetrics {
 public:
  AgentMetrics();

  void connection_attributed();
  // outcome: a Refusal's name, or "source_over_cap" (agent/serve/admission.h).
  void connection_refused(std::string_view outcome);
  void http_refused(std::string_view listener, std::string_view reason);
  void internal_error();
  void deny_event(const std::string& reason, const std::string& hook);
  void set_programs_attached(bool attached);
  void watchdog_failure();

  // Exports the kernel's per-CPU counters at every scrape (as counter increments since the last scrape).
  void track_kernel_stats(std::function<Result<StatsSnapshot>()> read);
  // Exports the HTTP server's session counts at every scrape (http::Server::open_sessions, busy_sessions).
  void track_http_sessions(std::function<size_t()> open, std::function<size_t()> busy);

  // The Prometheus text exposition of everything above.
  std::string serialize() const;

  const metrics::Registry& registry() const { return registry_; }
  metrics::Registry& registry() { return registry_; }

 private:
  metrics::Registry registry_;
  metrics::Family<metrics::Counter>& connections_;
  metrics::Family<metrics::Counter>& http_refusals_;
  metrics::Family<metrics::Counter>& datapath_;
  metrics::Family<metrics::Counter>& deny_events_;
  metrics::Family<metrics::Gauge>& sessions_;
  metrics::Gauge& attached_;
  metrics::Counter& watchdog_failures_;
  metrics::Counter& internal_errors_;
  metrics::Counter& stats_read_errors_;
  StatsSnapshot last_stats_{};
};

}  // namespace podid::agent
