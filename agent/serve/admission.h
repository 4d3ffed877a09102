// SPDX-License-Identifier: Apache-2.0
//
// What a connection on the redirect address gets, decided at accept, before a byte is read:
//   1. The kernel's record of the socket, taken once (agent/bpf/imds_redirect_attributor.h). A connection
//      without one (it did not come through the redirect: someone connected to the agent's address directly; or
//      the record is stale, from another ABI, unreadable) is answered 403 with the reason at once and closed, reading
//      nothing; a source holding kMaxRefusedPerSource such answers in flight is dropped outright. Record-less
//      connections therefore cost no read timeout and cannot pin descriptors.
//   2. The pod owning the recorded cgroups, resolved once, here (empty when none is known yet: the IMDS
//      service answers that case, retryably).
//   3. The pod's connection cap: a pod already holding max_per_pod connections gets 429 + Retry-After at once,
//      reading nothing.
//   4. The handler: /podid/v1/whoami answers what the kernel recorded; everything else goes to the IMDS
//      service (absent when the agent runs without Kubernetes: only whoami is served then).
// Every refusal is counted and logged as an audit line (throttled: an attacker can cause them at will; the
// counters count every one).
//
// Single-threaded: runs on the agent's io thread, in the server's accept loop.
#pragma once

#include <sys/socket.h>

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/bpf/imds_redirect_attributor.h"
#include "agent/serve/caller.h"
#include "agent/serve/connection_slots.h"
#include "agent/serve/whoami.h"
#include "podid/http/server.h"

namespace podid::agent {

// Refusal answers a single source may have in flight at once; more are closed without an answer.
inline constexpr uint32_t kMaxRefusedPerSource = 16;

// Where admission reports what it decided (podid_agent_connections_total, podid_pod_resolution_failures_total).
struct AdmissionCounters {
  std::function<void()> attributed;
  std::function<void(std::string_view outcome)> refused;  // a Refusal's name, or "source_over_cap"
  std::function<void()> pod_over_cap;
};

using PodUidOf = std::function<std::string(const podid_caller& kernel_record)>;
using ImdsHandler = std::function<boost::asio::awaitable<http::Answer>(const http::Request&, const Caller&)>;

struct AdmissionDeps {
  Attributor& attributor;
  AdmissionCounters counters;
  CgroupPathOf cgroup_path_of;  // for whoami; may be empty
  PodUidOf pod_uid_of;          // empty: no pods (the agent runs without Kubernetes)
  ImdsHandler imds;             // empty: whoami only
};

class ConnectionAdmission {
 public:
  ConnectionAdmission(AdmissionDeps deps, uint32_t max_connections_per_pod);
  ConnectionAdmission(const ConnectionAdmission&) = delete;
  ConnectionAdmission& operator=(const ConnectionAdmission&) = delete;

  // For the server: reads the socket's addresses, then decides as below.
  http::Admission admit(http::tcp::socket& socket);
  // The decision for a connection from `peer` to `local` (testable without sockets).
  http::Admission admit(const sockaddr_storage& peer, const sockaddr_storage& local);

  const ConnectionSlots& pod_slots() const { return per_pod_; }
  const ConnectionSlots& refused_slots() const { return refused_per_source_; }

 private:
  http::Admission refuse(Refusal reason, const std::string& peer_ip, uint16_t port);
  http::ReplayingHandler serve(Caller caller, std::shared_ptr<void> slot);

  AdmissionDeps deps_;
  ConnectionSlots per_pod_;
  ConnectionSlots refused_per_source_;
};

}  // namespace podid::agent
