// SPDX-License-Identifier: Apache-2.0
//
// The command line of `podid` (also run as the kubectl plugin `kubectl-podid`, so `kubectl podid doctor` works):
//   podid doctor  [flags]
//   podid explain NAMESPACE/POD [flags]
//   podid help | version
// Parsed in one place; bad usage throws std::invalid_argument with a message naming the argument, which main
// prints before exiting 2.
#pragma once

#include <chrono>
#include <string>

#include "agent/identity/selection.h"

namespace podid::cli {

enum class Command { kDoctor, kExplain, kHelp, kVersion };

struct CliOptions {
  Command command = Command::kHelp;
  std::string pod_namespace, pod_name;  // explain's NAMESPACE/POD
  std::string kubeconfig;               // "" = $KUBECONFIG, ~/.kube/config, then in-cluster
  std::string context;                  // kubeconfig context; "" = current-context
  std::string podid_namespace = "podid-system";  // where the agent DaemonSet runs
  std::string cloud_config;             // the controller's azure.json; "" = no Azure checks
  std::string oidc_issuer;              // the cluster's OIDC issuer; "" = the API server's discovery document
  std::string agent_url;                // explain: the pod's node agent's decisions listener; "" = not asked
  std::string azure_ca_file;            // extra CA bundle for ARM / Entra ID (Azure Stack, test emulators)
  std::string imds_endpoint = "http://169.254.169.254";  // when azure.json says managed identity
  agent::SelectionPolicy selection;     // --mode, --force-namespaced: as the agent and controller run
  bool json = false;                    // -o json
  unsigned arm_concurrency = 16;        // ARM calls in flight at once
  std::chrono::milliseconds timeout{10000};  // per HTTP request
  std::string log_level = "error";      // structured log lines on stderr at this level and above
};

CliOptions parse_options(int argc, const char* const argv[]);
std::string usage();

}  // namespace podid::cli
