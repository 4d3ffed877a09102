// SPDX-License-Identifier: Apache-2.0
#include "cli/options.h"

#include <stdexcept>
#include <string_view>

#include "podid/config/flags.h"

namespace podid::cli {

std::string usage() {
  return R"(podid: find podid misconfigurations before a pod fails, and explain a pod's identity.

Usage:
  podid doctor [flags]                 report every problem found, each with its cause and the command that
                                       fixes it; exit 0 when nothing is wrong, 1 otherwise
  podid explain NAMESPACE/POD [flags]  which identity the pod gets, which rule chose it, what almost matched
  podid help | version
Also installed as kubectl-podid: `kubectl podid doctor`.

Flags:
  --kubeconfig PATH       default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account
  --context NAME          kubeconfig context (default: its current-context)
  --namespace NS          where podid-agent runs (default podid-system)
  --cloud-config PATH     the controller's azure.json: check Azure with the controller's credentials
                          (without it, Azure is not checked)
  --azure-ca-file PATH    CA bundle for ARM and Entra ID (Azure Stack)
  --oidc-issuer URL       the cluster's OIDC issuer, for federated credentials (default: the API server's
                          /.well-known/openid-configuration)
  --agent-url URL         explain: the pod's node agent's decisions listener (127.0.0.1:9103 on the node;
                          from elsewhere through kubectl port-forward), for its cgroup and last decisions
  --imds-endpoint URL     IMDS for a managed-identity azure.json (default http://169.254.169.254)
  --mode standard|managed as podid-agent's --mode (default standard)
  --force-namespaced      as podid-controller's --force-namespaced
  -o, --output table|json default table
  --arm-concurrency N     ARM calls in flight at once (default 16)
  --timeout-ms N          per HTTP request (default 10000)
  --log-level LEVEL       structured log lines on stderr: debug, info, warn, error (default error)
)";
}

namespace {

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument(why + " (try 'podid help')"); }

}  // namespace

CliOptions parse_options(int argc, const char* const argv[]) {
  CliOptions o;
  if (argc < 2) bad("a command is required: doctor, explain, help or version");
  const std::string_view command = argv[1];
  if (command == "doctor") {
    o.command = Command::kDoctor;
  } else if (command == "explain") {
    o.command = Command::kExplain;
  } else if (command == "help" || command == "--help" || command == "-h") {
    o.command = Command::kHelp;
    return o;
  } else if (command == "version" || command == "--version") {
    o.command = Command::kVersion;
    return o;
  } else {
    bad("unknown command '" + std::string(command) + "'");
  }

  bool have_target = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool inline_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      inline_value = true;
    }
    auto take = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= argc) bad(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--kubeconfig") {
      o.kubeconfig = take();
    } else if (arg == "--context") {
      o.context = take();
    } else if (arg == "--namespace" || arg == "-n") {
      o.podid_namespace = take();
      if (o.podid_namespace.empty()) bad(arg + " must not be empty");
    } else if (arg == "--cloud-config") {
      o.cloud_config = take();
    } else if (arg == "--oidc-issuer") {
      o.oidc_issuer = take();
      if (!o.oidc_issuer.starts_with("https://")) bad("--oidc-issuer must be an https:// URL");
    } else if (arg == "--agent-url") {
      o.agent_url = take();
      if (!o.agent_url.starts_with("http://")) bad("--agent-url must be an http:// URL");
    } else if (arg == "--azure-ca-file") {
      o.azure_ca_file = take();
    } else if (arg == "--imds-endpoint") {
      o.imds_endpoint = take();
      if (!o.imds_endpoint.starts_with("http://")) bad("--imds-endpoint must be an http:// URL");
    } else if (arg == "--mode") {
      std::string mode = take();
      if (mode == "standard") o.selection.mode = agent::Mode::kStandard;
      else if (mode == "managed") o.selection.mode = agent::Mode::kManaged;
      else bad("--mode must be standard or managed, not '" + mode + "'");
    } else if (arg == "--force-namespaced") {
      o.selection.force_namespaced = inline_value ? config::parse_bool(arg, value) : true;
    } else if (arg == "-o" || arg == "--output") {
      std::string output = take();
      if (output != "table" && output != "json") bad(arg + " must be table or json, not '" + output + "'");
      o.json = output == "json";
    } else if (arg == "--arm-concurrency") {
      o.arm_concurrency = static_cast<unsigned>(config::parse_uint(arg, take(), 256));
      if (o.arm_concurrency == 0) bad("--arm-concurrency must be at least 1");
    } else if (arg == "--timeout-ms") {
      o.timeout = std::chrono::milliseconds(config::parse_uint(arg, take(), 600000));
      if (o.timeout.count() == 0) bad("--timeout-ms must be at least 1");
    } else if (arg == "--log-level") {
      o.log_level = take();
      if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" && o.log_level != "error")
        bad("--log-level must be debug, info, warn or error");
    } else if (!arg.starts_with("-") && o.command == Command::kExplain && !have_target) {
      auto slash = arg.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == arg.size() ||
          arg.find('/', slash + 1) != std::string::npos) {
        bad("explain takes NAMESPACE/POD, not '" + arg + "'");
      }
      o.pod_namespace = arg.substr(0, slash);
      o.pod_name = arg.substr(slash + 1);
      have_target = true;
    } else {
      bad("unknown argument '" + arg + "'");
    }
  }
  if (o.command == Command::kExplain && !have_target) bad("explain needs NAMESPACE/POD");
  return o;
}

}  // namespace podid::cli
