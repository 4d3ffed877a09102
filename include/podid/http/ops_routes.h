// SPDX-License-Identifier: Apache-2.0
//
// The operator-facing endpoints both binaries serve on their ops address: /healthz (the process is serving),
// /readyz (empty reason = ready, else 503 and why; then the detail lines, if any) and /metrics (Prometheus text). A pure function, tested
// without sockets.
#pragma once

#include <functional>
#include <string>

#include "podid/http/server.h"

namespace podid::http {

struct OpsState {
  std::function<bool()> live;            // the process is serving
  std::function<std::string()> ready;    // empty when ready, else why not
  std::function<std::string()> metrics;  // Prometheus text exposition
  std::function<std::string()> detail;   // optional: lines /readyz adds either way (what is active, what not)
};

Response handle_ops(const Request& req, const OpsState& state);

}  // namespace podid::http
