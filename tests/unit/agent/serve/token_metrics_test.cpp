// SPDX-License-Identifier: Apache-2.0
//
// podid_token_requests_total's per-pod series: a pod's series go with the pod, and never while another pod's
// requests still count in them. Series are named by their labels (namespace, pod, ...), not by the pod's UID,
// so two UIDs can land in one series: requests from pods the agent does not know (yet, or any more) all carry
// namespace="" and pod="", and a pod recreated under the same name (a StatefulSet's) has the old one's labels.
// Found by the soak (scripts/bench soak): pods created while the API was cut asked as unknown pods, one of them
// was later deleted, its series went, and the next unknown pod's request incremented a freed counter.
#include "agent/serve/token_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "podid/metrics/registry.h"

namespace podid::agent {
namespace {

using namespace std::chrono_literals;

// The value of podid_token_requests_total for one pod and result, or -1 when there is no such series.
double requests(const metrics::Registry& registry, const std::string& ns, const std::string& pod,
                const std::string& result) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "podid_token_requests_total") continue;
    for (const auto& m : family.metric) {
      std::string got_ns, got_pod, got_result;
      for (const auto& label : m.label) {
        if (label.name == "namespace") got_ns = label.value;
        if (label.name == "pod") got_pod = label.value;
        if (label.name == "result") got_result = label.value;
      }
      if (got_ns == ns && got_pod == pod && got_result == result) return m.counter.value;
    }
  }
  return -1;
}

TokenRequestLabels request_of(std::string_view uid, std::string_view ns, std::string_view pod,
                              std::string_view result) {
  return {.ns = ns, .pod = pod, .pod_uid = uid, .identity = "client-1", .resource = "https://vault.azure.net",
          .result = result, .source = ""};
}

TEST(TokenMetrics, UnknownPodsShareOneSeriesThatOutlivesEachOfThem) {
  metrics::Registry registry;
  TokenMetrics m(registry);
  m.token_request(request_of("uid-a", "", "", "not_ready"), 1ms, 404);
  m.token_request(request_of("uid-b", "", "", "not_ready"), 1ms, 404);
  ASSERT_EQ(requests(registry, "", "", "not_ready"), 2);

  // uid-a becomes a known pod, then goes: what it asked as an unknown pod is not its series to take away.
  m.forget_pod("uid-a");
  m.token_request(request_of("uid-b", "", "", "not_ready"), 1ms, 404);
  EXPECT_EQ(requests(registry, "", "", "not_ready"), 3);
  m.forget_pod("uid-b");
  EXPECT_EQ(requests(registry, "", "", "not_ready"), 3);
}

TEST(TokenMetrics, APodsSeriesGoWithItsLastUid) {
  metrics::Registry registry;
  TokenMetrics m(registry);
  // web-0 recreated under a new UID while the old one is still in the agent's copy.
  m.token_request(request_of("uid-old", "shop", "web-0", "served"), 1ms, 200);
  m.token_request(request_of("uid-new", "shop", "web-0", "served"), 1ms, 200);
  m.forget_pod("uid-old");
  m.token_request(request_of("uid-new", "shop", "web-0", "served"), 1ms, 200);
  EXPECT_EQ(requests(registry, "shop", "web-0", "served"), 3);

  m.forget_pod("uid-new");
  EXPECT_EQ(requests(registry, "shop", "web-0", "served"), -1);
  // Forgetting twice, or a pod that never asked, changes nothing.
  m.forget_pod("uid-new");
  m.forget_pod("uid-never");
  m.token_request(request_of("uid-next", "shop", "web-0", "served"), 1ms, 200);
  EXPECT_EQ(requests(registry, "shop", "web-0", "served"), 1);
}

TEST(TokenMetrics, SeriesOfDistinctPodsGoSeparately) {
  metrics::Registry registry;
  TokenMetrics m(registry);
  m.token_request(request_of("uid-1", "shop", "web-0", "served"), 1ms, 200);
  m.token_request(request_of("uid-2", "shop", "web-1", "served"), 1ms, 200);
  m.token_request(request_of("uid-2", "shop", "web-1", "not_found"), 1ms, 400);
  m.forget_pod("uid-2");
  EXPECT_EQ(requests(registry, "shop", "web-0", "served"), 1);
  EXPECT_EQ(requests(registry, "shop", "web-1", "served"), -1);
  EXPECT_EQ(requests(registry, "shop", "web-1", "not_found"), -1);
}

}  // namespace
}  // namespace podid::agent
