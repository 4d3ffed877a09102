// SPDX-License-Identifier: Apache-2.0
#include "agent/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using podid::agent::AgentMetrics;
using podid::agent::Refusal;
using podid::agent::StatsSnapshot;

std::string line_of(const AgentMetrics& metrics, const std::string& series) {
  const std::string text = metrics.serialize();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at + 1);
  return text.substr(at + 1, end - at - 1);
}

TEST(AgentMetrics, ConnectionOutcomesExistFromTheStartAndCount) {
  AgentMetrics metrics;
  for (auto outcome : {"attributed", "no_kernel_record", "stale_kernel_record", "abi_mismatch", "lookup_failed",
                       "unsupported_address"}) {
    const std::string series = std::string("podid_agent_connections_total{outcome=\"") + outcome + "\"}";
    EXPECT_EQ(line_of(metrics, series), series + " 0");
  }
  metrics.connection_attributed();
  metrics.connection_attributed();
  metrics.connection_refused(refusal_name(Refusal::kNoRecord));
  EXPECT_EQ(line_of(metrics, "podid_agent_connections_total{outcome=\"attributed\"}"),
            "podid_agent_connections_total{outcome=\"attributed\"} 2");
  EXPECT_EQ(line_of(metrics, "podid_agent_connections_total{outcome=\"no_kernel_record\"}"),
            "podid_agent_connections_total{outcome=\"no_kernel_record\"} 1");
}

TEST(AgentMetrics, KernelCountersAreMirroredAsIncrementsAtEachScrape) {
  AgentMetrics metrics;
  StatsSnapshot stats{};
  bool fail = false;
  metrics.track_kernel_stats([&]() -> podid::Result<StatsSnapshot> {
    if (fail) return podid::os_error(EIO, "read stats");
    return stats;
  });
  stats[PODID_STAT_REDIRECT] = 5;  // pinned counters carry history from before this agent started
  EXPECT_EQ(line_of(metrics, "podid_bpf_datapath_total{outcome=\"redirect\"}"),
            "podid_bpf_datapath_total{outcome=\"redirect\"} 5");
  stats[PODID_STAT_REDIRECT] = 8;
  EXPECT_EQ(line_of(metrics, "podid_bpf_datapath_total{outcome=\"redirect\"}"),
            "podid_bpf_datapath_total{outcome=\"redirect\"} 8");

  fail = true;
  EXPECT_EQ(line_of(metrics, "podid_bpf_stats_read_errors_total"), "podid_bpf_stats_read_errors_total 1");
  EXPECT_EQ(line_of(metrics, "podid_bpf_datapath_total{outcome=\"redirect\"}"),
            "podid_bpf_datapath_total{outcome=\"redirect\"} 8");

  // Pins recreated (counters back near zero): never a decrease, counting resumes from the new values.
  fail = false;
  stats[PODID_STAT_REDIRECT] = 1;
  EXPECT_EQ(line_of(metrics, "podid_bpf_datapath_total{outcome=\"redirect\"}"),
            "podid_bpf_datapath_total{outcome=\"redirect\"} 8");
  stats[PODID_STAT_REDIRECT] = 3;
  EXPECT_EQ(line_of(metrics, "podid_bpf_datapath_total{outcome=\"redirect\"}"),
            "podid_bpf_datapath_total{outcome=\"redirect\"} 10");
}

TEST(AgentMetrics, SinglesAndLabelledRefusals) {
  AgentMetrics metrics;
  metrics.set_programs_attached(true);
  metrics.watchdog_failure();
  metrics.internal_error();
  metrics.http_refused("redirect", "header_too_large");
  metrics.deny_event("udp_sendmsg", "sendmsg4");
  EXPECT_EQ(line_of(metrics, "podid_bpf_programs_attached"), "podid_bpf_programs_attached 1");
  EXPECT_EQ(line_of(metrics, "podid_bpf_watchdog_failures_total"), "podid_bpf_watchdog_failures_total 1");
  EXPECT_EQ(line_of(metrics, "podid_agent_internal_errors_total"), "podid_agent_internal_errors_total 1");
  EXPECT_EQ(line_of(metrics, "podid_agent_http_refusals_total{listener=\"redirect\",reason=\"header_too_large\"}"),
            "podid_agent_http_refusals_total{listener=\"redirect\",reason=\"header_too_large\"} 1");
  EXPECT_EQ(line_of(metrics, "podid_bpf_deny_events_total{hook=\"sendmsg4\",reason=\"udp_sendmsg\"}"),
            "podid_bpf_deny_events_total{hook=\"sendmsg4\",reason=\"udp_sendmsg\"} 1");
  metrics.set_programs_attached(false);
  EXPECT_EQ(line_of(metrics, "podid_bpf_programs_attached"), "podid_bpf_programs_attached 0");
}

}  // namespace
