// SPDX-License-Identifier: Apache-2.0
// Prints what podid-agent's or podid-controller's /metrics would serve with a little of everything counted
// (every family of the agent's own classes, the token path's included), for `promtool check metrics` to judge:
// the real Prometheus parser and linter on the real families, names, help texts and label values.
//   exposition_sample agent|controller
#include <iostream>
#include <string_view>

#include "agent/metrics.h"
#include "agent/serve/token_metrics.h"
#include "controller/metrics.h"

namespace {

using namespace std::chrono_literals;

std::string agent() {
  podid::agent::AgentMetrics metrics;
  podid::agent::TokenMetrics tokens(metrics.registry());
  metrics.connection_attributed();
  metrics.connection_refused(podid::agent::refusal_name(podid::agent::Refusal::kStaleRecord));
  metrics.http_refused("redirect", "malformed");
  metrics.deny_event("egress_raw_socket", "egress");
  metrics.set_programs_attached(true);
  metrics.track_kernel_stats([] {
    return podid::Result<podid::agent::StatsSnapshot>(podid::agent::StatsSnapshot{7, 1});
  });
  tokens.token_request({.ns = "shop", .pod = "web-0", .pod_uid = "u1", .identity = "5f3a1c2e",
                        .resource = "https://vault.azure.net", .result = "served", .source = "cache"},
                       45us, 200);
  tokens.token_request({.pod_uid = "", .resource = "quote\" back\\slash", .result = "refused"}, 20us, 403);
  tokens.pod_resolution_failure("source_ip_mismatch");
  tokens.upstream_request("imds", 429);
  tokens.passthrough("forwarded");
  tokens.track([] {
    podid::agent::TokenStackSnapshot s{.cache_entries = 1, .cache_events = {{"hit", 3}}, .pods_known = 1};
    s.watches = {{"pods", podid::k8s::ReflectorStats{.synced = true, .connected = true}}};
    s.identity_objects = {{"AzureIdentity", 1}};
    return s;
  });
  return metrics.serialize();
}

std::string controller() {
  podid::controller::ControllerMetrics metrics;
  metrics.set_queue_depth(2, 1);
  metrics.reconciled("partial", 1200ms);
  metrics.throttled_wait(30s);
  metrics.assigned(4s);
  metrics.set_identities("/subscriptions/s/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets/a", 3);
  metrics.problem("IdentityNotFound");
  metrics.track_caches([] {
    return std::vector<std::pair<std::string, podid::k8s::ReflectorStats>>{
        {"pods", podid::k8s::ReflectorStats{.synced = true, .connected = true}}};
  });
  return metrics.serialize();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view which = argc > 1 ? argv[1] : "";
  if (which == "agent") std::cout << agent();
  else if (which == "controller") std::cout << controller();
  else {
    std::cerr << "usage: exposition_sample agent|controller\n";
    return 2;
  }
  return std::cout.good() ? 0 : 1;
}
