// SPDX-License-Identifier: Apache-2.0
// The exposition text, compared byte for byte: any drift here is a scrape Prometheus may read differently.
#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <string>

#include "podid/metrics/counter.h"
#include "podid/metrics/family.h"
#include "podid/metrics/gauge.h"
#include "podid/metrics/histogram.h"
#include "podid/metrics/registry.h"
#include "podid/metrics/text_serializer.h"

namespace podid::metrics {
namespace {

std::string scrape(const Registry& registry) { return TextSerializer{}.Serialize(registry.Collect()); }

TEST(MetricsTextSerializerTest, SmallRegistryExactText) {
  Registry registry;
  auto& requests = BuildCounter()
                       .Name("podid_token_requests_total")
                       .Help("Token requests served.")
                       .Labels({{"node", "n1"}})
                       .Register(registry);
  requests.Add({{"outcome", "ok"}}).Increment(3);
  requests.Add({{"outcome", "denied"}}).Increment();
  BuildGauge().Name("podid_identities").Help("Identities assigned.").Register(registry).Add({}).Set(2.5);
  auto& latency = BuildHistogram().Name("podid_fetch_seconds").Help("Fetch latency.").Register(registry);
  auto& histogram = latency.Add({{"source", "imds"}}, Histogram::BucketBoundaries{0.005, 0.1, 1});
  histogram.Observe(0.005);
  histogram.Observe(0.05);
  histogram.Observe(3);
  BuildGauge().Name("podid_unused").Help("No series, not written.").Register(registry);

  EXPECT_EQ(scrape(registry),
            "# HELP podid_fetch_seconds Fetch latency.\n"
            "# TYPE podid_fetch_seconds histogram\n"
            "podid_fetch_seconds_bucket{source=\"imds\",le=\"0.005\"} 1\n"
            "podid_fetch_seconds_bucket{source=\"imds\",le=\"0.1\"} 2\n"
            "podid_fetch_seconds_bucket{source=\"imds\",le=\"1\"} 2\n"
            "podid_fetch_seconds_bucket{source=\"imds\",le=\"+Inf\"} 3\n"
            "podid_fetch_seconds_sum{source=\"imds\"} 3.055\n"
            "podid_fetch_seconds_count{source=\"imds\"} 3\n"
            "# HELP podid_identities Identities assigned.\n"
            "# TYPE podid_identities gauge\n"
            "podid_identities 2.5\n"
            "# HELP podid_token_requests_total Token requests served.\n"
            "# TYPE podid_token_requests_total counter\n"
            "podid_token_requests_total{node=\"n1\",outcome=\"denied\"} 1\n"
            "podid_token_requests_total{node=\"n1\",outcome=\"ok\"} 3\n");
}

TEST(MetricsTextSerializerTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  BuildGauge()
      .Name("g")
      .Help("back\\slash \"quoted\"\nsecond line")
      .Register(registry)
      .Add({{"v", "a\\b\"c\nd"}})
      .Set(1);
  EXPECT_EQ(scrape(registry),
            "# HELP g back\\\\slash \"quoted\"\\nsecond line\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsTextSerializerTest, ReplacesInvalidUtf8) {
  Registry registry;
  auto& family = BuildGauge().Name("g").Help("h\xff").Register(registry);
  family.Add({{"v", "caf\xc3\xa9"}}).Set(1);       // valid two-byte sequence: kept
  family.Add({{"v", "x\xc3"}}).Set(2);             // truncated sequence
  family.Add({{"v", "\xed\xa0\x80"}}).Set(3);      // UTF-16 surrogate
  family.Add({{"v", "\xc0\xaf"}}).Set(4);          // overlong '/'
  family.Add({{"v", "\xf0\x9f\x98\x80"}}).Set(5);  // four-byte sequence: kept
  // Series come in byte order of their label values, so the surrogate (0xED) sorts after the overlong (0xC0).
  EXPECT_EQ(scrape(registry),
            "# HELP g h\xEF\xBF\xBD\n"
            "# TYPE g gauge\n"
            "g{v=\"caf\xc3\xa9\"} 1\n"
            "g{v=\"x\xEF\xBF\xBD\"} 2\n"
            "g{v=\"\xEF\xBF\xBD\xEF\xBF\xBD\"} 4\n"
            "g{v=\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 3\n"
            "g{v=\"\xf0\x9f\x98\x80\"} 5\n");
}

TEST(MetricsTextSerializerTest, FormatsSpecialAndLargeValues) {
  Registry registry;
  auto& family = BuildGauge().Name("g").Help("h").Register(registry);
  family.Add({{"k", "a"}}).Set(std::numeric_limits<double>::infinity());
  family.Add({{"k", "b"}}).Set(-std::numeric_limits<double>::infinity());
  family.Add({{"k", "c"}}).Set(std::numeric_limits<double>::quiet_NaN());
  family.Add({{"k", "d"}}).Set(1e21);
  family.Add({{"k", "e"}}).Set(0.1);
  family.Add({{"k", "f"}}).Set(-42);
  EXPECT_EQ(scrape(registry),
            "# HELP g h\n"
            "# TYPE g gauge\n"
            "g{k=\"a\"} +Inf\n"
            "g{k=\"b\"} -Inf\n"
            "g{k=\"c\"} NaN\n"
            "g{k=\"d\"} 1e+21\n"
            "g{k=\"e\"} 0.1\n"
            "g{k=\"f\"} -42\n");
}

TEST(MetricsTextSerializerTest, EmptyHelpIsOmittedAndStreamMatches) {
  Registry registry;
  BuildCounter().Name("c_total").Register(registry).Add({}).Increment(7);
  const std::string expected = "# TYPE c_total counter\nc_total 7\n";
  EXPECT_EQ(scrape(registry), expected);
  std::ostringstream stream;
  TextSerializer{}.Serialize(stream, registry.Collect());
  EXPECT_EQ(stream.str(), expected);
}

}  // namespace
}  // namespace podid::metrics
