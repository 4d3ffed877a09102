// SPDX-License-Identifier: Apache-2.0
#include "controller/config.h"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "podid/config/flags.h"
#include "podid/log.h"

namespace podid::controller {
namespace {

using config::parse_bool;
using config::parse_uint;
using config::Values;
using FlagSpec = config::FlagSpec<ControllerConfig>;
using S = const std::string&;

template <class F>
auto last(F f) {
  return config::last<ControllerConfig>(f);
}

uint64_t positive(S flag, S v, uint64_t max) {
  auto n = parse_uint(flag, v, max);
  if (n == 0) throw std::invalid_argument(flag + " must be at least 1");
  return n;
}

std::chrono::milliseconds positive_ms(S flag, S v, uint64_t max) { return std::chrono::milliseconds(positive(flag, v, max)); }

// A DNS-1123 label or subdomain, as Kubernetes names are.
bool is_dns_name(std::string_view v, std::size_t max) {
  if (v.empty() || v.size() > max || v.front() == '-' || v.back() == '-') return false;
  for (char ch : v) {
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'))
      return false;
  }
  return true;
}

// Client ids are GUIDs; compared lower-case, because Azure ignores their case (the predecessor lower-cased the
// stored ones but not the looked-up one, so an upper-case flag value protected nothing).
std::string guid(S flag, std::string v) {
  bool ok = v.size() == 36;
  for (std::size_t i = 0; ok && i < v.size(); ++i) {
    char& ch = v[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) ok = ch == '-';
    else if (std::isxdigit(static_cast<unsigned char>(ch))) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    else ok = false;
  }
  if (!ok) throw std::invalid_argument(flag + ": '" + v + "' is not a client id (GUID)");
  return v;
}

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> kSpecs = {
      {"kubeconfig", false, last([](ControllerConfig& c, S, S v) { c.kubeconfig = v; })},
      {"namespace", false, last([](ControllerConfig& c, S flag, S v) {
         if (!is_dns_name(v, 63) || v.find('.') != std::string::npos)
           throw std::invalid_argument(flag + ": '" + v + "' is not a namespace name");
         c.ns = v;
       })},
      {"force-namespaced", false, last([](ControllerConfig& c, S flag, S v) { c.force_namespaced = parse_bool(flag, v); })},
      {"cloud-config", false, last([](ControllerConfig& c, S, S v) { c.cloud_config = v; })},
      {"imds-endpoint", false, last([](ControllerConfig& c, S flag, S v) {
         if (v.rfind("http://", 0) != 0 || v.size() <= 7 || v.find_first_of("?#", 7) != std::string::npos)
           throw std::invalid_argument(flag + ": '" + v + "' is not an http:// URL without query");
         c.imds_endpoint = v.back() == '/' ? v.substr(0, v.size() - 1) : v;
       })},
      {"azure-ca-file", false, last([](ControllerConfig& c, S, S v) { c.azure_ca_file = v; })},
      {"immutable-user-msis", true, [](ControllerConfig& c, S flag, const Values& values) {
         // Comma-separated as the predecessor's flag, and repeatable.
         c.immutable_client_ids.clear();
         for (const auto& value : values) {
           std::size_t start = 0;
           while (start <= value.size()) {
             auto comma = value.find(',', start);
             std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
             if (!item.empty()) c.immutable_client_ids.push_back(guid(flag, item));
             if (comma == std::string::npos) break;
             start = comma + 1;
           }
         }
       }},
      {"kube-api-qps", false, last([](ControllerConfig& c, S flag, S v) {
         c.kube_api_qps = static_cast<double>(positive(flag, v, 100000));
       })},
      {"kube-api-burst", false, last([](ControllerConfig& c, S flag, S v) {
         c.kube_api_burst = static_cast<uint32_t>(positive(flag, v, 100000));
       })},
      {"binding-event-window-ms", false, last([](ControllerConfig& c, S flag, S v) {
         c.binding_event_window = std::chrono::milliseconds(parse_uint(flag, v, 3600000));
       })},
      {"coalesce-window-ms", false, last([](ControllerConfig& c, S flag, S v) { c.coalesce_window = std::chrono::milliseconds(parse_uint(flag, v, 60000)); })},
      {"max-parallel-computes", false, last([](ControllerConfig& c, S flag, S v) {
         c.max_parallel_computes = static_cast<uint32_t>(positive(flag, v, 256));
       })},
      {"retry-initial-ms", false, last([](ControllerConfig& c, S flag, S v) { c.retry_initial = positive_ms(flag, v, 3600000); })},
      {"retry-max-ms", false, last([](ControllerConfig& c, S flag, S v) { c.retry_max = positive_ms(flag, v, 86400000); })},
      {"drift-check-interval-s", false, last([](ControllerConfig& c, S flag, S v) {
         // 0 turns the check off.
         c.drift_check_interval = std::chrono::seconds(parse_uint(flag, v, 86400));
       })},
      {"arm-poll-interval-ms", false, last([](ControllerConfig& c, S flag, S v) { c.arm_poll_interval = positive_ms(flag, v, 600000); })},
      {"arm-timeout-ms", false, last([](ControllerConfig& c, S flag, S v) { c.arm_timeout = positive_ms(flag, v, 600000); })},
      {"leader-elect", false, last([](ControllerConfig& c, S flag, S v) { c.leader_elect = parse_bool(flag, v); })},
      {"leader-election-name", false, last([](ControllerConfig& c, S flag, S v) {
         if (!is_dns_name(v, 253)) throw std::invalid_argument(flag + ": '" + v + "' is not a Lease name");
         c.leader_election_name = v;
       })},
      {"leader-election-duration-s", false, last([](ControllerConfig& c, S flag, S v) {
         auto s = parse_uint(flag, v, 3600);
         if (s < 2) throw std::invalid_argument(flag + " must be at least 2");
         c.leader_election_duration = std::chrono::seconds(s);
       })},
      {"leader-election-identity", false, last([](ControllerConfig& c, S flag, S v) {
         if (v.empty()) throw std::invalid_argument(flag + " must not be empty");
         c.leader_election_identity = v;
       })},
      {"listen", false, last([](ControllerConfig& c, S flag, S v) { std::tie(c.listen_address, c.listen_port) = config::parse_endpoint(flag, v); })},
      {"log-level", false, last([](ControllerConfig& c, S flag, S v) {
         if (!log::parse_level(v)) throw std::invalid_argument(flag + ": '" + v + "' is not debug, info, warn or error");
         c.log_level = v;
       })},
  };
  return kSpecs;
}

}  // namespace

std::string controller_usage() {
  return R"(usage: podid-controller [run|version|help] [FLAGS]

Puts the user-assigned identities that pods need onto their nodes' VM scale sets and VMs, and writes
AzureAssignedIdentity objects, as aad-pod-identity's MIC did: with one GET and one delta PATCH per scale set
per change window, never removing an identity it did not add.

Every flag is also read from the environment as PODID_<FLAG> and from the JSON file given by --config, whose
keys are flag names. Precedence: flag, then environment, then file.

Kubernetes:
  --kubeconfig FILE             default: in-cluster service account
  --namespace NS                the controller's namespace (default: $POD_NAMESPACE, else $MIC_POD_NAMESPACE);
                                ledger ConfigMaps and the leader Lease live here
  --force-namespaced BOOL       identity, binding and pod must share a namespace (default false)
  --kube-api-qps N              the controller's writes per second, sustained (default 50; client-go's is 5)
  --kube-api-burst N            and in a burst (default 100; client-go's is 10)

Azure:
  --cloud-config FILE           azure.json (default /etc/kubernetes/azure.json); "" reads the predecessor's
                                variables CLOUD, TENANT_ID, CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID,
                                RESOURCE_GROUP, VM_TYPE, USE_MSI, USER_ASSIGNED_MSI_CLIENT_ID.
                                AZURE_ENVIRONMENT_FILEPATH names a custom cloud's endpoints.
  --imds-endpoint URL           for an ARM token by managed identity (default http://169.254.169.254)
  --azure-ca-file FILE          CA bundle trusted for ARM and Entra ID instead of the system's (Azure
                                Stack, tests)
  --immutable-user-msis IDS     client ids never removed, comma-separated, repeatable (the cloud config's
                                userAssignedIdentityID is always immutable)

reconciling:
  --coalesce-window-ms N        changes to one scale set within N ms make one round (default 1000)
  --max-parallel-computes N     scale sets and VMs reconciled at once (default 8)
  --retry-initial-ms N          first retry of a failed round (default 1000), doubling, with jitter,
  --retry-max-ms N              up to this (default 300000)
  --drift-check-interval-s N    a full pass: the desired state computed whole checks the incremental one,
                                and one GET per scale set holding identities re-adds what was removed out
                                of band (default 180; 0 = off)
  --binding-event-window-ms N   "binding applied" / "binding removed" Events summed per binding over N ms
                                (default 30000; 0 = one per round)
  --arm-poll-interval-ms N      long-running operation polls when ARM gives no Retry-After (default 5000)
  --arm-timeout-ms N            per ARM request (default 30000)

leader election (coordination.k8s.io/v1 Lease <namespace>/<name>):
  --leader-elect BOOL           (default true)
  --leader-election-name NAME   (default podid-controller)
  --leader-election-duration-s N  (default 15; renew deadline half of it, retry a quarter)
  --leader-election-identity ID (default: <host name>_<random>, unique per process)

operations:
  --listen ADDR:PORT            /metrics, /healthz, /readyz (default 0.0.0.0:8888)
  --log-level LEVEL             debug, info, warn, error (default info)
  --config FILE                 JSON file of flags
)";
}

Invocation parse_controller_args(int argc, const char* const argv[]) {
  Invocation inv;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    std::string_view cmd = argv[i++];
    if (cmd == "run") inv.command = Command::kRun;
    else if (cmd == "version") inv.command = Command::kVersion;
    else if (cmd == "help") inv.command = Command::kHelp;
    else throw std::invalid_argument("unknown command '" + std::string(cmd) + "'; try 'podid-controller help'");
  }
  bool help = false;
  auto flags = config::gather_flags(argc, argv, i, config::flag_names(flag_specs()), "podid-controller", &help);
  if (help) {
    inv.command = Command::kHelp;
    return inv;
  }
  ControllerConfig& c = inv.config;
  if (!flags.count("namespace")) {
    // The predecessor's variable, then the downward API's usual name.
    for (const char* env : {"POD_NAMESPACE", "MIC_POD_NAMESPACE"}) {
      if (const char* v = std::getenv(env); v && *v) {
        flags["namespace"] = {v};
        break;
      }
    }
  }
  config::apply_flags(flag_specs(), flags, c);
  if (c.retry_max < c.retry_initial) throw std::invalid_argument("--retry-max-ms must not be below --retry-initial-ms");
  if (inv.command == Command::kRun && c.ns.empty()) {
    throw std::invalid_argument("--namespace is required (or POD_NAMESPACE / MIC_POD_NAMESPACE): the ledger and the Lease live there");
  }
  return inv;
}

}  // namespace podid::controller
