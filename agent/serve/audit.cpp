// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/audit.h"

#include "podid/log.h"

namespace podid::agent {

void audit_token_decision(const TokenDecision& d) {
  nlohmann::json fields = {
      {"audit", true},
      {"namespace", d.ns},
      {"pod", d.pod},
      {"cgroup_id", d.cgroup_id},
      {"client_id", d.client_id},
      {"resource", d.resource},
      {"decision", d.decision},
      {"reason", d.reason},
      {"source", d.source},
      {"status", d.status},
      {"latency_us", std::chrono::duration_cast<std::chrono::microseconds>(d.latency).count()},
  };
  // Refusals are what a security team looks for: warn, so they survive a log level of warn.
  auto level = d.decision == "served" ? log::Level::kInfo : log::Level::kWarn;
  log::write(level, "token decision", fields);
}

}  // namespace podid::agent
