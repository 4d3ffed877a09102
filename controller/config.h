// SPDX-License-Identifier: Apache-2.0
//
// podid-controller's configuration: one aggregate, every field documented and defaulted. Parsed in config.cpp
// and nowhere else, from flags, PODID_<FLAG> environment variables and an optional JSON file (--config), the
// same way as the agent's (podid/config/flags.h). Invalid values throw std::invalid_argument naming the flag:
// start-up only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace podid::controller {

struct ControllerConfig {
  // Kubernetes.
  std::string kubeconfig;  // empty: in-cluster service account
  std::string ns;          // the controller's namespace: ledger ConfigMaps and the leader Lease
  bool force_namespaced = false;
  // Client-side limit on the controller's writes (token bucket), as client-go's QPS and burst (client-go's
  // defaults are 5 and 10; these are kube-scheduler's, which also writes once per pod).
  double kube_api_qps = 50;
  uint32_t kube_api_burst = 100;

  // Azure.
  std::string cloud_config = "/etc/kubernetes/azure.json";  // empty: the predecessor's environment variables
  std::string imds_endpoint = "http://169.254.169.254";     // ARM token by managed identity
  std::string azure_ca_file;  // CA bundle for ARM and Entra ID instead of the system's (Azure Stack, tests)
  std::vector<std::string> immutable_client_ids;            // never removed; plus the cloud config's own identity

  // Reconciling.
  std::chrono::milliseconds coalesce_window{1000};
  uint32_t max_parallel_computes = 8;
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{300000};
  std::chrono::seconds drift_check_interval{180};
  std::chrono::milliseconds arm_poll_interval{5000};
  // "binding applied" / "binding removed" Events summed per binding over this long (0: one per round).
  std::chrono::milliseconds binding_event_window{30000};
  std::chrono::milliseconds arm_timeout{30000};  // per ARM request

  // Leader election on a coordination.k8s.io/v1 Lease.
  bool leader_elect = true;
  std::string leader_election_name = "podid-controller";
  std::chrono::seconds leader_election_duration{15};
  std::string leader_election_identity;  // default: leader::default_identity() (<host name>_<random hex>)

  // Operations.
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 8888;  // /metrics, /healthz, /readyz
  std::string log_level = "info";
};

enum class Command { kRun, kVersion, kHelp };

struct Invocation {
  Command command = Command::kRun;
  ControllerConfig config;
};

// argv as main() gets it. Throws std::invalid_argument with a message fit for the user.
Invocation parse_controller_args(int argc, const char* const argv[]);
std::string controller_usage();

}  // namespace podid::controller
