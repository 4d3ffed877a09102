// SPDX-License-Identifier: Apache-2.0
//
// What the agent answers, as pure functions: request (and what the kernel said about the caller) in,
// response out. No sockets, no maps: tests call these directly.
//
// Pod-facing (the redirect address): a caller the kernel vouched for gets the diagnostic identity endpoint;
// one it did not gets 403 with the reason. The ops address is served by podid/http/ops_routes.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/bpf/imds_redirect_attributor.h"
#include "podid/http/server.h"

namespace podid::agent {

// The caller of one accepted connection, as the kernel recorded it plus what the agent resolved.
struct CallerView {
  podid_conn_ident ident;
  std::chrono::nanoseconds record_age{0};
  std::optional<std::string> cgroup_path;      // of ident.caller.cgroup_id, if known
  std::optional<std::string> ancestor_path[2];  // of ident.caller.ancestor_cgroup_id[0..1], if known
};

inline constexpr const char* kWhoamiPath = "/podid/v1/whoami";

// A connection the kernel vouched for.
http::Response handle_attributed(const http::Request& req, const CallerView& caller);

// A connection the agent refuses to serve: 403 and the reason, whatever was asked.
http::Response handle_refused(const http::Request& req, Refusal reason);

}  // namespace podid::agent
