// SPDX-License-Identifier: Apache-2.0
//
// Every metric of podid-agent's own (the token stack's are in serve/token_metrics.h, on the same registry), in
// one place, so names and labels are defined once. New metrics are under podid_.
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
//
// An attributed connection counts on a series held here, never on a label-map lookup: admission
// (agent/serve/admission.h) runs on every accept(). Refusals, the rarer outcome, look their series up by label.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <functional>
#include <string>
#include <string_view>

#include "agent/bpf/imds_redirect_attributor.h"
#include "agent/bpf/imds_redirect_probe.h"
#include "podid/scraped_registry.h"

namespace podid::agent {

class AgentMetrics {
 public:
  AgentMetrics();

  void connection_attributed() { attributed_.Increment(); }
  // outcome: a Refusal's name, or "source_over_cap" (agent/serve/admission.h).
  void connection_refused(std::string_view outcome);
  void http_refused(std::string_view listener, std::string_view reason);
  void internal_error() { internal_errors_.Increment(); }
  void deny_event(const std::string& reason, const std::string& hook);
  void set_programs_attached(bool attached) { attached_.Set(attached ? 1 : 0); }
  void watchdog_failure() { watchdog_failures_.Increment(); }

  // Exports the kernel's per-CPU counters at every scrape (as counter increments since the last scrape).
  void track_kernel_stats(std::function<Result<StatsSnapshot>()> read);
  // Exports the HTTP server's session counts at every scrape (http::Server::open_sessions, busy_sessions).
  void track_http_sessions(std::function<size_t()> open, std::function<size_t()> busy);

  // The Prometheus text exposition of everything on the registry.
  std::string serialize() const { return registry_.serialize(); }

  ScrapedRegistry& registry() { return registry_; }

 private:
  ScrapedRegistry registry_;
  prometheus::Family<prometheus::Counter>& connections_;
  prometheus::Family<prometheus::Counter>& http_refusals_;
  prometheus::Family<prometheus::Counter>& datapath_;
  prometheus::Family<prometheus::Counter>& deny_events_;
  prometheus::Counter& attributed_;
  prometheus::Family<prometheus::Gauge>& sessions_;
  prometheus::Gauge& attached_;
  prometheus::Counter& watchdog_failures_;
  prometheus::Counter& internal_errors_;
  prometheus::Counter& stats_read_errors_;
  StatsSnapshot last_stats_{};  // touched only by the scrape hook, which the registry serializes
};

}  // namespace podid::agent
