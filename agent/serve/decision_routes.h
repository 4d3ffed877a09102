// SPDX-License-Identifier: Apache-2.0
//
// The agent's decisions listener: the last token decisions it made for one pod, and the pod's cgroup, for
// `podid explain` (docs/doctor.md). Pure functions, tested without sockets.
//
// Who may read them (docs/security.md, "Trust boundaries"): callers on this node only. The listener binds a
// loopback address (config validation refuses any other) and admits a connection only from a loopback peer,
// so a pod in its own network namespace cannot connect, whatever its capabilities: its 127.0.0.1 is its own,
// and the node's kernel drops packets for 127.0.0.0/8 that arrive on another interface (the peer check holds
// even where route_localnet=1 lets them in). From outside the node, `kubectl port-forward` to the agent pod
// reaches it (the kubelet connects to localhost in the pod's network namespace, which for the hostNetwork
// agent is the node's), authorised by the API server as `create pods/portforward` in the agent's namespace.
// The API server's pods/proxy would not do: it strips the caller's Authorization header and presents no client
// certificate, so the agent could not tell it from a pod.
//
// GET /podid/v1/decisions?pod_uid=UID -> 200 {node, pod_uid, namespace, pod, cgroup {id, path} | null,
// recorded, kept_per_pod, decisions: [newest first]}; a pod with no decision kept is 200 with none (its
// cgroup still shown when known). No pod_uid or a malformed one: 400. Another path: 404; another method: 405.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/serve/decision_log.h"
#include "podid/http/server.h"

namespace podid::agent {

inline constexpr std::string_view kDecisionsPath = "/podid/v1/decisions";

struct PodCgroup {
  uint64_t id = 0;
  std::string path;
};

struct DecisionsView {
  std::string node;
  const DecisionLog* log = nullptr;
  std::function<std::optional<PodCgroup>(const std::string& pod_uid)> pod_cgroup;
  std::function<std::optional<std::string>(uint64_t cgroup_id)> cgroup_path;
};

// The access rule: only a peer on this node's loopback (127.0.0.0/8, ::1, or either mapped in IPv6).
bool is_node_local_peer(const boost::asio::ip::address& peer);

http::Response handle_decisions(const http::Request& req, const DecisionsView& view);

// The listener's admission: a connection from a node-local peer is served handle_decisions; any other is
// closed unanswered, logged (throttled) and counted through `refused`. `view` must outlive the listener.
http::ConnectionHandler decisions_listener(const DecisionsView& view, std::function<void()> refused);

}  // namespace podid::agent
