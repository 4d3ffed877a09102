// SPDX-License-Identifier: Apache-2.0
// podid-agent: gives each pod on the node its own Azure identity. See agent/agent.h for the commands.
#include <iostream>
#include <stdexcept>

#include "agent/agent.h"
#include "agent/config.h"

int main(int argc, char** argv) {
  using namespace podid::agent;
  Invocation inv;
  try {
    inv = parse_agent_args(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "podid-agent: " << e.what() << "\n";
    return 2;
  }
  switch (inv.command) {
    case Command::kHelp: std::cout << agent_usage(); return 0;
    case Command::kVersion: std::cout << "podid-agent " << PODID_VERSION << "\n"; return 0;
    case Command::kProbe: return probe_host(inv.config);
    case Command::kUninstall: return uninstall_agent(inv.config);
    case Command::kRun: return run_agent(inv.config);
  }
  return 2;
}
