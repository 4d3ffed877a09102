// SPDX-License-Identifier: Apache-2.0
//
// Prometheus text exposition format 0.0.4, the one every Prometheus and promtool reads:
//   # HELP podid_token_requests_total Token requests served, by outcome.
//   # TYPE podid_token_requests_total counter
//   podid_token_requests_total{outcome="ok"} 12
// Families are written in the order given (Registry::Collect sorts them by name); families without series
// are left out, as client_golang does. Label values and HELP are escaped, and bytes that are not valid UTF-8
// (e.g. a process name read from the kernel) become U+FFFD, since one bad byte makes Prometheus reject the
// whole scrape.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "podid/metrics/metric_family.h"

namespace podid::metrics {

class TextSerializer {
 public:
  // The Content-Type a /metrics handler sends with this output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  std::string Serialize(const std::vector<MetricFamily>& families) const;
  void Serialize(std::ostream& out, const std::vector<MetricFamily>& families) const;
};

}  // namespace podid::metrics
