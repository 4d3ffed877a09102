// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/audit.h"

#include <charconv>

#include "agent/imds/token_response.h"  // append_json_escaped
#include "agent/serve/decision_log.h"

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
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

// Refusals are what a security team looks for: warn, so they survive a log level of warn.
log::Level level_of(std::string_view decision) { return decision == "served" ? log::Level::kInfo : log::Level::kWarn; }

// Every member but the latency, in the line's order.
void fields_before_latency(std::string& m, const TokenDecision& d) {
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
}

void latency_member(std::string& m, std::chrono::nanoseconds latency) {
  member(m, "latency_us", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
}

}  // namespace

void audit_token_decision(const TokenDecision& d, DecisionLog* decisions) {
  if (decisions) decisions->record(d, std::chrono::system_clock::now());
  auto level = level_of(d.decision);
  if (!log::enabled(level)) return;
  // Built as text, not as a JSON object: this runs for every token request (see bench/token_bench.py).
  std::string m;
  m.reserve(384);
  fields_before_latency(m, d);
  latency_member(m, d.latency);
  log::write_members(level, "token decision", m);
}

RepeatedAudit::RepeatedAudit(const TokenDecision& d, DecisionLog* decisions)
    : level_(level_of(d.decision)), decisions_(d.pod_uid.empty() ? nullptr : decisions) {
  fields_.reserve(384);
  fields_before_latency(fields_, d);
  if (decisions_) {
    record_ = DecisionLog::make(d, {});
    pod_uid_ = d.pod_uid;
    ns_ = d.ns;
    pod_ = d.pod;
  }
}

void RepeatedAudit::write(std::chrono::nanoseconds latency) const {
  if (decisions_) {
    DecisionRecord r = record_;
    r.at = std::chrono::system_clock::now();
    r.latency_us = DecisionLog::micros(latency);
    decisions_->keep(pod_uid_, ns_, pod_, r);
  }
  if (!log::enabled(level_)) return;
  std::string m;
  m.reserve(fields_.size() + 32);
  m = fields_;
  latency_member(m, latency);
  log::write_members(level_, "token decision", m);
}

}  // namespace podid::agent
