// SPDX-License-Identifier: Apache-2.0
#include "agent/metrics.h"

#include "podid/log.h"

namespace podid::agent {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

AgentMetrics::AgentMetrics()
    : connections_(BuildCounter()
                       .Name("podid_agent_connections_total")
                       .Help("Connections accepted on the redirect address, by outcome: attributed, or why refused.")
                       .Register(registry_)),
      http_refusals_(BuildCounter()
                         .Name("podid_agent_http_refusals_total")
                         .Help("Requests the agent's HTTP server refused on its own (malformed, over a limit), and "
                               "connections that ended in an exception, by listener and reason.")
                         .Register(registry_)),
      datapath_(BuildCounter()
                    .Name("podid_bpf_datapath_total")
                    .Help("Decisions of the kernel programs, by outcome (summed over CPUs).")
                    .Register(registry_)),
      deny_events_(BuildCounter()
                       .Name("podid_bpf_deny_events_total")
                       .Help("Refusals reported by the kernel programs, by reason and hook.")
                       .Register(registry_)),
      attributed_(connections_.Add({{"outcome", "attributed"}})),
      sessions_(BuildGauge()
                    .Name("podid_agent_http_sessions")
                    .Help("Connections the agent's HTTP server is serving now, by state: open (each one "
                          "coroutine), busy (a request read, its answer not yet written).")
                    .Register(registry_)),
      attached_(BuildGauge()
                    .Name("podid_bpf_programs_attached")
                    .Help("1 while every pinned link holds this agent's program on the kubepods cgroup.")
                    .Register(registry_)
                    .Add({})),
      watchdog_failures_(BuildCounter()
                             .Name("podid_bpf_watchdog_failures_total")
                             .Help("Watchdog checks that found a pinned link missing, swapped or moved.")
                             .Register(registry_)
                             .Add({})),
      internal_errors_(BuildCounter()
                           .Name("podid_agent_internal_errors_total")
                           .Help("Exceptions that reached the agent's event loop: a bug, logged; serving goes on.")
                           .Register(registry_)
                           .Add({})),
      stats_read_errors_(BuildCounter()
                             .Name("podid_bpf_stats_read_errors_total")
                             .Help("Failed reads of the kernel stats map.")
                             .Register(registry_)
                             .Add({})) {
  // Pre-create the zero series so dashboards and alerts see them before the first event.
  for (auto r : {Refusal::kUnsupportedAddress, Refusal::kNoRecord, Refusal::kStaleRecord, Refusal::kAbiMismatch,
                 Refusal::kLookupFailed}) {
    connections_.Add({{"outcome", std::string(refusal_name(r))}});
  }
  connections_.Add({{"outcome", "source_over_cap"}});
}

void AgentMetrics::connection_refused(std::string_view outcome) {
  connections_.Add({{"outcome", std::string(outcome)}}).Increment();
}

void AgentMetrics::http_refused(std::string_view listener, std::string_view reason) {
  http_refusals_.Add({{"listener", std::string(listener)}, {"reason", std::string(reason)}}).Increment();
}

void AgentMetrics::deny_event(const std::string& reason, const std::string& hook) {
  deny_events_.Add({{"reason", reason}, {"hook", hook}}).Increment();
}

void AgentMetrics::track_kernel_stats(std::function<Result<StatsSnapshot>()> read) {
  registry_.on_scrape([this, read = std::move(read)] {
    auto stats = read();
    if (!stats) {
      stats_read_errors_.Increment();
      log::warn("read kernel stats failed", {{"error", stats.error().message()}});
      return;
    }
    for (int i = 0; i < PODID_STAT_MAX; ++i) {
      uint64_t now = (*stats)[i];
      // Pinned counters survive agent restarts; the first scrape exports their whole history.
      if (now >= last_stats_[i]) {
        datapath_.Add({{"outcome", stat_name(static_cast<podid_stat>(i))}})
            .Increment(static_cast<double>(now - last_stats_[i]));
      }
      last_stats_[i] = now;
    }
  });
}

void AgentMetrics::track_http_sessions(std::function<size_t()> open, std::function<size_t()> busy) {
  auto& open_gauge = sessions_.Add({{"state", "open"}});
  auto& busy_gauge = sessions_.Add({{"state", "busy"}});
  registry_.on_scrape([&open_gauge, &busy_gauge, open = std::move(open), busy = std::move(busy)] {
    open_gauge.Set(static_cast<double>(open()));
    busy_gauge.Set(static_cast<double>(busy()));
  });
}

}  // namespace podid::agent
