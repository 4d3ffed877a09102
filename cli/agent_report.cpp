// SPDX-License-Identifier: Apache-2.0
#include "cli/agent_report.h"

#include <nlohmann/json.hpp>

#include "cli/cluster_view.h"
#include "podid/log.h"

namespace podid::cli {
namespace bh = boost::beast::http;
using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<AgentReport> parse_agent_report(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("decisions") || !doc["decisions"].is_array()) {
    return Error{std::make_error_code(std::errc::bad_message), "not the agent's decisions document"};
  }
  AgentReport r;
  r.fetched = true;
  r.node = text(doc, "node");
  if (const json& c = doc.value("cgroup", json()); c.is_object()) {
    r.cgroup_id = c.value("id", uint64_t{0});
    r.cgroup_path = text(c, "path");
  }
  r.recorded = doc.value("recorded", uint64_t{0});
  for (const json& d : doc["decisions"]) {
    if (!d.is_object()) return Error{std::make_error_code(std::errc::bad_message), "a decision that is not an object"};
    r.decisions.push_back({.time = text(d, "time"),
                           .client_id = text(d, "client_id"),
                           .resource = text(d, "resource"),
                           .decision = text(d, "decision"),
                           .reason = text(d, "reason"),
                           .source = text(d, "source"),
                           .subject = text(d, "subject"),
                           .cgroup_path = text(d, "cgroup_path"),
                           .cgroup_id = d.value("cgroup_id", uint64_t{0}),
                           .status = d.value("status", 0u)});
  }
  return r;
}

boost::asio::awaitable<AgentReport> fetch_agent_report(http::Client& client, std::string agent_url,
                                                       std::string pod_uid) {
  AgentReport failed;
  auto base = http::Url::parse(agent_url);
  if (!base) {
    failed.note = "--agent-url: " + base.error().message();
    co_return failed;
  }
  http::Request request{bh::verb::get, "/", 11};
  request.set(bh::field::accept, "application/json");
  auto url = base->with_target("/podid/v1/decisions?pod_uid=" + pod_uid);
  auto response = co_await client.send(url, std::move(request));
  if (!response) {
    failed.note = "the agent at " + agent_url + " did not answer: " + response.error().message();
    log::error("agent decisions not read", {{"url", agent_url}, {"error", response.error().message()}});
    co_return failed;
  }
  if (response->result_int() != 200) {
    failed.note = "the agent at " + agent_url + " answered " + std::to_string(response->result_int());
    log::error("agent decisions refused", {{"url", agent_url}, {"status", response->result_int()}});
    co_return failed;
  }
  auto report = parse_agent_report(response->body());
  if (!report) {
    failed.note = "the answer of " + agent_url + " is " + report.error().context;
    log::error("agent decisions unreadable", {{"url", agent_url}, {"error", report.error().context}});
    co_return failed;
  }
  co_return std::move(*report);
}

AgentReport agent_unreachable(const ClusterView& view, std::string_view podid_namespace, const crd::PodInfo& pod,
                              std::string why) {
  AgentReport r;
  r.note = std::move(why);
  const AgentFacts* agent = nullptr;
  for (const auto& a : view.agents) {
    if (a.node == pod.node) agent = &a;
  }
  if (!agent) {
    r.note += "; no podid-agent pod runs on node " + pod.node;
    return r;
  }
  const std::string target = "-n " + std::string(podid_namespace) + " pod/" + agent->pod;
  const std::string port = std::to_string(kAgentDecisionsPort);
  r.port_forward =
      "kubectl port-forward " + target + " " + port + ":" + port + " (then --agent-url http://127.0.0.1:" + port + ")";
  // The audit line's members in the order audit.cpp writes them.
  r.audit_lines = "kubectl logs " + target + " | grep '\"namespace\":\"" + pod.ns + "\",\"pod\":\"" + pod.name + "\"'";
  return r;
}

}  // namespace podid::cli
