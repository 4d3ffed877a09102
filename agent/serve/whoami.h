// SPDX-License-Identifier: Apache-2.0
//
// The agent's own answers on the redirect address, as pure functions (request and caller in, response out;
// tests call them without sockets):
//   - /podid/v1/whoami: what the kernel recorded about the calling socket (a diagnostic for `podid explain`
//     and for anyone debugging a pod: its cgroup, the pod cgroup, the netns, the pid, the original destination);
//   - the refusal of a connection the kernel did not vouch for: 403 and the reason, written at accept.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/bpf/imds_redirect_attributor.h"
#include "agent/serve/caller.h"
#include "podid/http/server.h"

namespace podid::agent {

inline constexpr std::string_view kWhoamiPath = "/podid/v1/whoami";

// The path of a cgroup id, if the agent knows it.
using CgroupPathOf = std::function<std::optional<std::string>(uint64_t cgroup_id)>;

// GET /podid/v1/whoami (any query): 200 with the record; another method 405; another path 404 (the agent runs
// without Kubernetes: the kernel path only).
http::Response handle_whoami(const http::Request& req, const Caller& caller, const CgroupPathOf& path_of);

// 403 with the refusal's reason; closes. Built without a request: it is written before one is read.
http::Response refusal_response(Refusal reason);

}  // namespace podid::agent
