// SPDX-License-Identifier: Apache-2.0
//
// Who is on the other end of one accepted connection: what the kernel recorded for the socket, the pod the
// agent resolved it to when the connection was accepted, and the source address (checked against the pod's
// IPs as defence in depth; the kernel's record is what identifies the caller).
#pragma once

#include <cstdint>
#include <string>

namespace podid::agent {

struct Caller {
  uint64_t cgroup_id = 0;
  uint64_t ancestor_cgroup_id[2] = {0, 0};  // at kubepods+1 and +2: one is the pod's cgroup
  uint32_t tgid = 0;
  std::string peer_ip;  // source address of the connection (IPv4-mapped folded to IPv4)
  std::string pod_uid;  // empty: no pod known for these cgroups when the connection was accepted
};

}  // namespace podid::agent
