// SPDX-License-Identifier: Apache-2.0
//
// What the node's agent itself knows about one pod, for `podid explain`: the pod's cgroup and the last token
// decisions the agent made for it (agent/serve/decision_routes.h). The agent serves them on a loopback
// listener only, so explain reaches it with --agent-url: run on the node, or through `kubectl port-forward` to
// the agent pod (docs/doctor.md says why the API server's pods/proxy is not used). Without it, or when the
// agent does not answer, explain says so and gives the commands that read the same from the agent's audit lines.
//
// Errors: parse_agent_report returns Result (an answer that is not the agent's JSON); fetching never fails
// explain, it only fills `note`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podid/crd/crd_types.h"
#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::cli {

struct ClusterView;

inline constexpr uint16_t kAgentDecisionsPort = 9103;  // podid-agent --decisions-listen's default

struct AgentDecision {
  std::string time, client_id, resource, decision, reason, source, subject, cgroup_path;
  uint64_t cgroup_id = 0;
  unsigned status = 0;
};

struct AgentReport {
  bool fetched = false;
  std::string note;          // not fetched: why
  std::string port_forward;  // not fetched: the command that reaches the node's agent ("" when none runs there)
  std::string audit_lines;   // not fetched: the command that reads the same decisions from the agent's log
  std::string node;          // the node of the agent that answered
  std::optional<uint64_t> cgroup_id;
  std::string cgroup_path;
  uint64_t recorded = 0;                 // decisions the agent recorded for the pod (it keeps the last few)
  std::vector<AgentDecision> decisions;  // newest first
};

Result<AgentReport> parse_agent_report(std::string_view body);

// GET <agent_url>/podid/v1/decisions?pod_uid=UID; the answer, or a report whose note says what failed.
boost::asio::awaitable<AgentReport> fetch_agent_report(http::Client& client, std::string agent_url,
                                                       std::string pod_uid);

// A report that could not be had (`why`), with the commands for the pod's node: the port-forward that
// reaches its agent, and the audit lines that hold the same decisions.
AgentReport agent_unreachable(const ClusterView& view, std::string_view podid_namespace, const crd::PodInfo& pod,
                              std::string why);

}  // namespace podid::cli
