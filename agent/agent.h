// SPDX-License-Identifier: Apache-2.0
//
// podid-agent's commands, wired from the parts: run (probe the host, load and attach the kernel programs,
// serve), uninstall (remove every pin), probe (report what this host lacks).
//
// Errors: each command returns a process exit code and has logged why; start-up refusals name what is
// missing and how to fix it.
#pragma once

#include "agent/config.h"

namespace podid::agent {

int run_agent(const AgentConfig& config);
int uninstall_agent(const AgentConfig& config);
int probe_host(const AgentConfig& config);

}  // namespace podid::agent
