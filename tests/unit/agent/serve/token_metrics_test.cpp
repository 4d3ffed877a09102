// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace std::chrono_literals;
using podid::agent::TokenMetrics;
using podid::agent::TokenStackSnapshot;
using podid::agent::TokenRequestLabels;

const TokenRequestLabels kWebServed{.ns = "shop", .pod = "web-0", .pod_uid = "uid-web", .identity = "client-a",
                                    .resource = "https://vault.azure.net", .result = "served", .source = "cache"};

class TokenMetricsTest : public testing::Test {
 protected:
  // The exposition's line for one series, or "" if it is not there.
  std::string line_of(const std::string& series) {
    const std::string text = registry.serialize();
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "";
    auto end = text.find('\n', at + 1);
    return text.substr(at + 1, end - at - 1);
  }

  podid::ScrapedRegistry registry;
  TokenMetrics metrics{registry};
};

const std::string kWebSeries =
    "podid_token_requests_total{identity=\"client-a\",namespace=\"shop\",pod=\"web-0\","
    "resource=\"https://vault.azure.net\",result=\"served\",source=\"cache\"}";

TEST_F(TokenMetricsTest, CountsEachRequestOnItsPodsSeries) {
  for (int i = 0; i < 3; ++i) metrics.token_request(kWebServed, 40us, 200);
  EXPECT_EQ(line_of(kWebSeries), kWebSeries + " 3");
  EXPECT_EQ(metrics.held_series("uid-web"), 1u);
  EXPECT_NE(line_of("podid_token_request_duration_seconds_count{result=\"served\",source=\"cache\"}"), "");
  EXPECT_EQ(line_of("aadpodidentity_nmi_operations_duration_seconds_count{namespace=\"shop\","
                    "operation_type=\"/metadata/identity/oauth2/token\",resource=\"https://vault.azure.net\","
                    "status_code=\"200\"}"),
            "aadpodidentity_nmi_operations_duration_seconds_count{namespace=\"shop\","
            "operation_type=\"/metadata/identity/oauth2/token\",resource=\"https://vault.azure.net\","
            "status_code=\"200\"} 3");
}

TEST_F(TokenMetricsTest, AnotherKindOfRequestGetsItsOwnSeries) {
  metrics.token_request(kWebServed, 40us, 200);
  TokenRequestLabels upstream = kWebServed;
  upstream.source = "upstream";
  metrics.token_request(upstream, 3ms, 200);
  TokenRequestLabels failed = kWebServed;
  failed.result = "upstream_error";
  failed.source = "upstream";
  metrics.token_request(failed, 3ms, 500);
  metrics.token_request(failed, 3ms, 503);  // same series, another status for the predecessor's histogram
  EXPECT_EQ(metrics.held_series("uid-web"), 4u);
  EXPECT_EQ(line_of(kWebSeries), kWebSeries + " 1");
  const std::string failed_series =
      "podid_token_requests_total{identity=\"client-a\",namespace=\"shop\",pod=\"web-0\","
      "resource=\"https://vault.azure.net\",result=\"upstream_error\",source=\"upstream\"}";
  EXPECT_EQ(line_of(failed_series), failed_series + " 2");
}

TEST_F(TokenMetricsTest, ADeletedPodsSeriesGoAwayAndOthersStay) {
  metrics.token_request(kWebServed, 40us, 200);
  TokenRequestLabels batch = kWebServed;
  batch.pod = "batch-0";
  batch.pod_uid = "uid-batch";
  metrics.token_request(batch, 40us, 200);

  metrics.forget_pod("uid-web");
  EXPECT_EQ(line_of(kWebSeries), "");
  EXPECT_EQ(metrics.held_series("uid-web"), 0u);
  EXPECT_NE(line_of("podid_token_requests_total{identity=\"client-a\",namespace=\"shop\",pod=\"batch-0\","
                    "resource=\"https://vault.azure.net\",result=\"served\",source=\"cache\"}"),
            "");
  metrics.forget_pod("uid-never-seen");  // nothing to do, nothing breaks

  // The pod's name again (a new pod, or a request answered after the pod went): counted from zero.
  metrics.token_request(kWebServed, 40us, 200);
  EXPECT_EQ(line_of(kWebSeries), kWebSeries + " 1");
}

TEST_F(TokenMetricsTest, APodRecreatedUnderItsNameKeepsCountingUntilBothUidsAreGone) {
  // A StatefulSet's pod: the new UID shares the old one's series (same labels) until the old one is forgotten.
  metrics.token_request(kWebServed, 40us, 200);
  TokenRequestLabels again = kWebServed;
  again.pod_uid = "uid-web-2";
  metrics.token_request(again, 40us, 200);
  EXPECT_EQ(line_of(kWebSeries), kWebSeries + " 2");

  metrics.forget_pod("uid-web");
  metrics.token_request(again, 40us, 200);  // would touch a freed counter if the series had been removed
  EXPECT_EQ(line_of(kWebSeries), kWebSeries + " 3");
  metrics.forget_pod("uid-web-2");
  EXPECT_EQ(line_of(kWebSeries), "");
}

TEST_F(TokenMetricsTest, ARequestWithoutAPodIsCountedWithEmptyPodLabels) {
  TokenRequestLabels unknown{.pod_uid = "", .resource = "https://management.azure.com/", .result = "refused"};
  metrics.token_request(unknown, 10us, 403);
  const std::string series =
      "podid_token_requests_total{identity=\"\",namespace=\"\",pod=\"\",resource=\"https://management.azure.com/\","
      "result=\"refused\",source=\"\"}";
  EXPECT_EQ(line_of(series), series + " 1");
}

TEST_F(TokenMetricsTest, FixedSeriesExistFromTheStartAndCount) {
  for (auto reason : {"unknown_cgroup", "unknown_pod", "source_ip_mismatch", "too_many_connections"}) {
    const std::string series = std::string("podid_pod_resolution_failures_total{reason=\"") + reason + "\"}";
    EXPECT_EQ(line_of(series), series + " 0");
  }
  metrics.pod_resolution_failure("source_ip_mismatch");
  metrics.pod_resolution_failure("source_ip_mismatch");
  metrics.pod_resolution_failure("a_reason_added_later");
  EXPECT_EQ(line_of("podid_pod_resolution_failures_total{reason=\"source_ip_mismatch\"}"),
            "podid_pod_resolution_failures_total{reason=\"source_ip_mismatch\"} 2");
  EXPECT_EQ(line_of("podid_pod_resolution_failures_total{reason=\"a_reason_added_later\"}"),
            "podid_pod_resolution_failures_total{reason=\"a_reason_added_later\"} 1");
  metrics.passthrough("blocked");
  EXPECT_EQ(line_of("podid_passthrough_requests_total{result=\"blocked\"}"),
            "podid_passthrough_requests_total{result=\"blocked\"} 1");
  EXPECT_EQ(line_of("podid_passthrough_requests_total{result=\"forwarded\"}"),
            "podid_passthrough_requests_total{result=\"forwarded\"} 0");
}

TEST_F(TokenMetricsTest, UpstreamCallsByStatusOrError) {
  metrics.upstream_request("imds", 200);
  metrics.upstream_request("entra", 0);
  EXPECT_EQ(line_of("podid_upstream_requests_total{status=\"200\",upstream=\"imds\"}"),
            "podid_upstream_requests_total{status=\"200\",upstream=\"imds\"} 1");
  EXPECT_EQ(line_of("podid_upstream_requests_total{status=\"error\",upstream=\"entra\"}"),
            "podid_upstream_requests_total{status=\"error\",upstream=\"entra\"} 1");
}

TEST_F(TokenMetricsTest, ScrapesMirrorTheComponentsState) {
  TokenStackSnapshot state{.cache_entries = 4, .cache_events = {{"hit", 10}, {"miss", 2}}, .pods_known = 9,
                          .pod_cgroups = 9, .container_cgroups = 12,
                          .identity_objects = {{"AzureIdentity", 3}}, .identity_objects_rejected = 1};
  podid::k8s::ReflectorStats pods{.synced = true, .connected = true, .failures = 1};
  podid::k8s::ReflectorStats secret_a{.synced = true, .connected = true, .failures = 2};
  podid::k8s::ReflectorStats secret_b{.synced = true, .connected = false, .failures = 0};
  state.watches = {{"pods", pods}, {"secret", secret_a}, {"secret", secret_b}};
  metrics.track([&state] { return state; });

  EXPECT_EQ(line_of("podid_token_cache_entries"), "podid_token_cache_entries 4");
  EXPECT_EQ(line_of("podid_token_cache_events_total{event=\"hit\"}"),
            "podid_token_cache_events_total{event=\"hit\"} 10");
  EXPECT_EQ(line_of("podid_k8s_watch_connected{watch=\"secret\"}"), "podid_k8s_watch_connected{watch=\"secret\"} 0");
  EXPECT_EQ(line_of("podid_k8s_watch_failures_total{watch=\"secret\"}"),
            "podid_k8s_watch_failures_total{watch=\"secret\"} 2");
  EXPECT_EQ(line_of("podid_k8s_api_reachable"), "podid_k8s_api_reachable 0");
  EXPECT_EQ(line_of("podid_pod_cgroups{level=\"container\"}"), "podid_pod_cgroups{level=\"container\"} 12");
  EXPECT_EQ(line_of("podid_identity_objects_rejected"), "podid_identity_objects_rejected 1");

  // Counters owned elsewhere move by what they moved, once, however often Prometheus scrapes.
  state.cache_events = {{"hit", 15}, {"miss", 2}};
  state.watches = {{"pods", pods}};
  EXPECT_EQ(line_of("podid_token_cache_events_total{event=\"hit\"}"),
            "podid_token_cache_events_total{event=\"hit\"} 15");
  EXPECT_EQ(line_of("podid_token_cache_events_total{event=\"hit\"}"),
            "podid_token_cache_events_total{event=\"hit\"} 15");
  EXPECT_EQ(line_of("podid_k8s_api_reachable"), "podid_k8s_api_reachable 1");
}

}  // namespace
