// SPDX-License-Identifier: Apache-2.0
//
// What keeping each token decision for `podid explain` costs the token path: audit_token_decision with and
// without the DecisionLog, side by side in one run, over 200 pods (the ring of each exists after its first
// decision, as on a node that has been serving). The audit line goes to /dev/null (stderr redirected), so its
// formatting and its write are measured, as the agent pays them. Prints nanoseconds per decision and the ratio;
// never passes or fails on time. Run: build/bench/bench-decision-log [decisions] (scripts/bench decisions).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/serve/audit.h"
#include "agent/serve/decision_log.h"
#include "podid/log.h"

using namespace podid::agent;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPods = 200;

double ns_per_decision(int n, const std::vector<std::string>& uids, DecisionLog* log) {
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string& uid = uids[i % kPods];
    audit_token_decision({.ns = "shop", .pod = "web-7c9f6", .pod_uid = uid, .cgroup_id = 4711,
                          .client_id = "5f3a1c2e-8d4b-4e7a-9b1c-2d3e4f5a6b7c", .resource = "https://vault.azure.net",
                          .decision = "served", .reason = "bound", .source = "cache", .status = 200,
                          .latency = std::chrono::microseconds(41)},
                         log);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 400000;
  std::vector<std::string> uids;
  for (int i = 0; i < kPods; ++i) uids.push_back("0c1d2e3f-4a5b-6c7d-8e9f-" + std::to_string(100000000000 + i));
  const int saved = dup(STDERR_FILENO);
  const int null = open("/dev/null", O_WRONLY);
  dup2(null, STDERR_FILENO);

  DecisionLog log;
  podid::log::set_min_level(podid::log::Level::kInfo);
  ns_per_decision(n / 10, uids, &log);  // warm-up: every pod's ring made
  ns_per_decision(n / 10, uids, nullptr);
  // Interleaved rounds, so drift on a shared machine hits both sides alike; the best round of each.
  double line = 1e18, line_and_record = 1e18, record_only = 1e18;
  for (int round = 0; round < 5; ++round) {
    podid::log::set_min_level(podid::log::Level::kInfo);
    line = std::min(line, ns_per_decision(n / 5, uids, nullptr));
    line_and_record = std::min(line_and_record, ns_per_decision(n / 5, uids, &log));
    podid::log::set_min_level(podid::log::Level::kError);  // no line: the record alone
    record_only = std::min(record_only, ns_per_decision(n / 5, uids, &log));
  }
  dup2(saved, STDERR_FILENO);
  std::printf("decision log: %d decisions per side, %d pods, %zu kept per pod, %zu B a record\n", n, kPods,
              log.per_pod(), sizeof(DecisionRecord));
  std::printf("  audit line only          %8.0f ns/decision\n", line);
  std::printf("  audit line + record      %8.0f ns/decision\n", line_and_record);
  std::printf("  record alone (no line)   %8.0f ns/decision\n", record_only);
  std::printf("  the record adds %.1f%% to the audit line (%.0f ns)\n", 100.0 * (line_and_record - line) / line,
              line_and_record - line);
  return 0;
}
