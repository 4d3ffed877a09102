// SPDX-License-Identifier: Apache-2.0
//
// The node as the agent finds it at start: where cgroup v2 is mounted, which cgroup is kubepods (the programs
// attach there) and how deep it sits, what the kernel lacks, and the process's descriptor limit.
//
// Errors: Result with errno and context; `podid-agent probe` prints them, `run` refuses to start with them.
#pragma once

#include <filesystem>
#include <string>

#include "agent/config.h"
#include "podid/result.h"

namespace podid::agent {

struct Host {
  std::filesystem::path mount;       // the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid)
  std::filesystem::path attach_dir;  // the kubepods cgroup
  int level = 0;                     // its depth below the mount
};

// --cgroup-path, else <mount>/kubepods.slice or <mount>/kubepods.
Result<Host> resolve_host(const AgentConfig& config);

// Everything that keeps this host from running podid (kernel features, non-multi attachments above kubepods,
// no kubepods cgroup), one line each, as a person can act on them; empty when it can.
std::string host_problems(const Result<Host>& host);

// Raises the soft limit on open descriptors to the hard limit: every pod's connections are descriptors, and
// the default soft limit (1,024) lets ~1,000 idle connections stop the agent for every pod. Returns the limit
// now in force.
Result<uint64_t> raise_descriptor_limit();

}  // namespace podid::agent
