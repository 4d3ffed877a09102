// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/audit.h"

#include "agent/imds/token_response.h"  // append_json_escaped
#include "agent/serve/decision_log.h"
#include "podid/log.h"

namespace podid::agent {
namespace {

void member(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":\"");
  imds::append_json_escaped(out, value);
  out.push_back('"');
}

void member(std::string& out, std::string_view key, uint64_t value) {
  if (!out.empty()) out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
  out.append(std::to_string(value));
}

}  // namespace

void audit_token_decision(const TokenDecision& d, DecisionLog* decisions) {
  if (decisions) decisions->record(d, std::chrono::system_clock::now());
  // Refusals are what a security team looks for: warn, so they survive a log level of warn.
  auto level = d.decision == "served" ? log::Level::kInfo : log::Level::kWarn;
  if (!log::enabled(level)) return;
  // Built as text, not as a JSON object: this runs for every token request (see bench/token_bench.py).
  std::string m;
  m.reserve(384);
  m.append("\"audit\":true");
  member(m, "namespace", d.ns);
  member(m, "pod", d.pod);
  if (!d.pod_uid.empty()) member(m, "pod_uid", d.pod_uid);
  member(m, "cgroup_id", d.cgroup_id);
  member(m, "client_id", d.client_id);
  member(m, "resource", d.resource);
  member(m, "decision", d.decision);
  member(m, "reason", d.reason);
  member(m, "source", d.source);
  if (!d.subject.empty()) member(m, "subject", d.subject);
  member(m, "status", d.status);
  member(m, "latency_us",
         static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d.latency).count()));
  log::write_members(level, "token decision", m);
}

}  // namespace podid::agent
