// SPDX-License-Identifier: Apache-2.0
//
// Who is on the other end of one accepted connection on the redirect address: the kernel's record of the
// socket (podid_conn_ident, the ABI type, taken once at accept), the pod the agent resolved it to then, and the
// source address (checked against the pod's IPs as defence in depth; the kernel's record is what identifies
// the caller). The one user-space view of a caller: admission builds it, the handlers read it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "podid/bpf/imds_redirect_abi.h"

namespace podid::agent {

struct Caller {
  podid_conn_ident ident{};                // cgroup ids, netns cookie, pid/tid, original destination
  std::chrono::nanoseconds record_age{0};  // between the kernel's record and the accept
  std::string peer_ip;                     // source address (IPv4-mapped folded to IPv4)
  std::string pod_uid;                     // empty: no pod owned these cgroups at accept

  uint64_t cgroup_id() const { return ident.caller.cgroup_id; }
  // At kubepods+1 and +2: one of them is the pod's cgroup (the container's may be gone by now).
  std::array<uint64_t, 2> ancestor_cgroup_ids() const {
    return {ident.caller.ancestor_cgroup_id[0], ident.caller.ancestor_cgroup_id[1]};
  }
  uint32_t tgid() const { return static_cast<uint32_t>(ident.caller.pid_tgid >> 32); }
};

}  // namespace podid::agent
