// SPDX-License-Identifier: Apache-2.0
// Prints an exposition using every metric type, constant labels, a collect callback, escaping and invalid
// UTF-8, for `promtool check metrics` to judge (see promtool_check.sh). The unit tests pin the exact bytes;
// this checks that the real parser and linter agree with what those bytes should be.
#include <iostream>

#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"
#include "podid/metrics/registry.h"
#include "podid/metrics/text_serializer.h"

int main() {
  using namespace podid::metrics;
  Registry registry;

  auto& requests = BuildCounter()
                       .Name("podid_token_requests_total")
                       .Help("Token requests served, by outcome.\nA second line with a \\ backslash.")
                       .Labels({{"node", "node-1"}})
                       .Register(registry);
  requests.Add({{"outcome", "ok"}, {"pod", "default/web-0"}}).Increment(12);
  requests.Add({{"outcome", "denied"}, {"pod", "quote\" back\\slash\nnewline"}}).Increment();
  requests.Add({{"outcome", "error"}, {"pod", "bad utf-8 \xff\xc3 kept caf\xc3\xa9"}}).Increment(0.5);

  auto& identities = BuildGauge().Name("podid_identities_assigned").Help("Identities per VMSS.").Register(registry);
  identities.Add({{"vmss", "pool-a"}}).Set(3);
  identities.Add({{"vmss", "pool-b"}}).Set(-1.25);
  BuildGauge().Name("podid_start_time_seconds").Help("Start time.").Register(registry).Add({}).SetToCurrentTime();

  auto& drops = BuildGauge().Name("podid_bpf_redirects").Help("Summed at scrape time.").Register(registry).Add({});
  registry.AddCollectCallback([&drops] { drops.Set(42); });

  auto& latency =
      BuildHistogram().Name("podid_token_fetch_duration_seconds").Help("Token fetch latency.").Register(registry);
  auto& imds = latency.Add({{"source", "imds"}}, Histogram::BucketBoundaries{0.005, 0.01, 0.1, 1, 10});
  for (double value : {0.001, 0.005, 0.02, 0.5, 30.0}) {
    imds.Observe(value);
  }
  latency.Add({{"source", "cache \"hot\""}}, Histogram::BucketBoundaries{0.001}).Observe(0.0001);

  TextSerializer{}.Serialize(std::cout, registry.Collect());
  return std::cout.good() ? 0 : 1;
}
