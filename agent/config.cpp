// SPDX-License-Identifier: Apache-2.0
#include "agent/config.h"

#include <boost/asio/ip/address.hpp>
#include <map>
#include <stdexcept>
#include <string_view>

#include "podid/config/flags.h"
#include "podid/log.h"

namespace podid::agent {

using config::is_ip_literal;
using config::parse_bool;
using config::parse_endpoint;
using config::parse_uint;

TargetRule TargetRule::parse(const std::string& spec) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument("--target '" + spec + "': " + why +
                                 " (want ACTION:PROTO:ADDR:PORT, e.g. redirect:tcp:169.254.169.254:80)");
  };
  auto c1 = spec.find(':');
  auto c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  if (c2 == std::string::npos) throw fail("too few fields");
  std::string action = spec.substr(0, c1), proto = spec.substr(c1 + 1, c2 - c1 - 1);
  TargetRule rule;
  static const std::map<std::string, podid_action> kActions = {
      {"redirect", PODID_ACTION_REDIRECT}, {"deny", PODID_ACTION_DENY}, {"allow", PODID_ACTION_ALLOW}};
  static const std::map<std::string, uint8_t> kProtos = {
      {"tcp", PODID_PROTO_TCP}, {"udp", PODID_PROTO_UDP}, {"any", PODID_PROTO_ANY}};
  auto a = kActions.find(action);
  if (a == kActions.end()) throw fail("action must be redirect, deny or allow");
  auto p = kProtos.find(proto);
  if (p == kProtos.end()) throw fail("protocol must be tcp, udp or any");
  rule.action = a->second;
  rule.proto = p->second;
  try {
    auto [addr, port] = parse_endpoint("--target", spec.substr(c2 + 1));
    rule.addr = addr;
    rule.port = port;
  } catch (const std::invalid_argument& e) {
    throw fail(e.what());
  }
  if (rule.action == PODID_ACTION_REDIRECT && rule.proto != PODID_PROTO_TCP) {
    throw fail("only tcp can be redirected");
  }
  return rule;
}

std::string TargetRule::to_string() const {
  const char* a = action == PODID_ACTION_REDIRECT ? "redirect" : action == PODID_ACTION_DENY ? "deny" : "allow";
  const char* p = proto == PODID_PROTO_TCP ? "tcp" : proto == PODID_PROTO_UDP ? "udp" : "any";
  bool v6 = addr.find(':') != std::string::npos;
  return std::string(a) + ":" + p + ":" + (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

std::vector<TargetRule> default_azure_targets() {
  return {
      {PODID_ACTION_REDIRECT, PODID_PROTO_TCP, "169.254.169.254", 80},
      {PODID_ACTION_DENY, PODID_PROTO_ANY, "169.254.169.254", 0},
      {PODID_ACTION_DENY, PODID_PROTO_TCP, "168.63.129.16", 80},
      {PODID_ACTION_DENY, PODID_PROTO_TCP, "168.63.129.16", 32526},
      {PODID_ACTION_ALLOW, PODID_PROTO_ANY, "168.63.129.16", 0},
  };
}

std::string agent_usage() {
  return R"(usage: podid-agent COMMAND [FLAGS]

commands:
  run        load, pin and attach the kernel programs (or take over pinned ones), then serve (default)
  uninstall  detach the programs and remove every pin; pods reach the metadata service directly again
  probe      check that this kernel and host can run podid, print what is missing, and exit (on a node;
             elsewhere, --cgroup-path names the cgroup v2 directory to check instead of kubepods)
  version    print the version
  help       print this text

Every flag is also read from the environment as PODID_<FLAG> (e.g. PODID_NODE_NAME) and from the JSON
file given by --config, whose keys are flag names ({"node-name": "n1", "target": ["..."]}).
Precedence: flag, then environment, then file.

kernel path:
  --cgroup-path DIR        cgroup v2 directory to attach to (default: <cgroup2>/kubepods.slice or kubepods)
  --bpffs DIR              bpffs mount point (default /sys/fs/bpf; mounted if absent)
  --pin-name NAME          pins under <bpffs>/NAME/v1/ (default podid)
  --listen ADDR:PORT       redirect address the agent serves (default 169.254.32.1:2579)
  --listen6 ADDR           IPv6 redirect address, same port as --listen (default: none; native IPv6
                           targets are then refused)
  --ops-listen ADDR:PORT   /metrics, /healthz, /readyz (default 127.0.0.1:9102; port 0 = any free port)
  --decisions-listen ADDR:PORT
                           the last token decisions per pod, for podid explain; a loopback address only
                           (default 127.0.0.1:9103; port 0 = any free port)
  --conn-table-size N      connections in flight between connect() and accept() (default 65536)
  --conn-quota-per-pod N   redirected connections one pod may hold open at once; more are refused
                           (default 256; 0 = no limit)
  --max-entry-age-ms N     refuse kernel records older than this at accept() (default 5000)
  --target SPEC            ACTION:PROTO:ADDR:PORT, repeatable; replaces the Azure defaults
  --exempt-cgroup DIR      extra cgroup v2 directory whose processes are not redirected; repeatable
  --host-hooks auto|require|off
                           frame hooks for what cgroup hooks miss (AF_PACKET, spoofing): netfilter
                           pre-routing (kernel 6.4+), tcx on pod interfaces and the uplink (6.6+).
                           auto: what the kernel supports, reported in /readyz; require: refuse to start
                           without all of them (default auto)
  --uplink IFACE           the node's uplink, repeatable (default: the default routes' interfaces)
  --pod-interface-prefix P name prefix of pods' host-side interfaces, repeatable (default: every veth
                           whose peer is in another network namespace, uplinks excepted)

Kubernetes:
  --kube on|off            off: kernel path only, no tokens (default on)
  --node-name NAME         this node (required with --kube on; the chart passes spec.nodeName)
  --kubeconfig FILE        default: in-cluster service account
  --startup-taint KEY      remove this taint from the node once ready (default: none)

identity choice:
  --mode standard|managed|federated
                           standard: serve once the AzureAssignedIdentity is Assigned (default);
                           managed: identities pre-assigned to the VMSS;
                           federated: federated identities only (no controller, nothing on scale sets)
  --force-namespaced BOOL  only bindings and identities in the pod's namespace (default false)
  --strict-default-identity BOOL
                           several identities and none named: Azure's "Multiple user assigned identities"
                           answer instead of the first by namespace/name (default false)
  --verify-source-ip BOOL  refuse connections not from one of the pod's IPs (default true)

tokens:
  --imds-upstream URL      the real IMDS (default http://169.254.169.254)
  --not-ready-status 404|503
                           answer while an identity is not yet assigned (default 404; 503 adds Retry-After)
  --not-ready-retry-after-seconds N  (default 5)
  --assignment-wait-ms N   wait up to N ms for an assignment before that answer (default 0, max 10000)
  --token-cache-entries N  (default 4096)
  --upstream-timeout-ms N  per upstream call (default 10000)

federated identities (AzureIdentity annotated podid.io/federated: "true", or a pod labelled
azure.workload.identity/use: "true" whose service account has azure.workload.identity/client-id):
  --federated BOOL         serve them (default true; false also stops watching service accounts)
  --token-request-credential kubelet|service-account
                           who asks for pods' service-account tokens: the node's kubelet credential,
                           confined to this node's pods (default), or the agent's own service account
                           (needs create serviceaccounts/token, cluster-wide)
  --kubelet-kubeconfig FILE  the kubelet's kubeconfig (default /var/lib/kubelet/kubeconfig), re-read when it
                           or its certificate changes
  --token-audience AUD     audience of those tokens (default api://AzureADTokenExchange)
  --token-expiration-seconds N  their lifetime, 600 to 86400 (default 3600); renewed at 80%
  --federated-authority URL  Entra ID authority when the identity names none (default
                           https://login.microsoftonline.com/)
  --federated-tenant-id ID tenant when neither the identity nor the service account names one

other IMDS paths:
  --passthrough BOOL       forward allowed non-token paths to the real IMDS (default true)
  --passthrough-prefix P   allowed path prefix, repeatable; replaces the default allow-list
  --block-instance-metadata BOOL  403 for /metadata/instance (default false)

limits and logs:
  --max-connections-per-pod N  (default 64)
  --log-level LEVEL        debug, info, warn, error (default info)
  --config FILE            JSON file of flags (see above)
)";
}

namespace {

using config::Values;
using FlagSpec = config::FlagSpec<AgentConfig>;

// Interface names (or their prefixes): what the kernel accepts, at most IFNAMSIZ - 1 characters.
std::vector<std::string> interface_names(const std::string& flag, const Values& values) {
  std::vector<std::string> out;
  for (const auto& name : values) {
    if (name.empty() || name.size() >= 16 || name.find_first_of("/ :") != std::string::npos)
      throw std::invalid_argument(flag + ": '" + name + "' is not an interface name");
    out.push_back(name);
  }
  return out;
}

template <class F>
auto last(F f) {
  return config::last<AgentConfig>(f);
}

const std::vector<FlagSpec>& flag_specs() {
  using S = const std::string&;
  static const std::vector<FlagSpec> kSpecs = {
      {"cgroup-path", false, last([](AgentConfig& c, S, S v) { c.cgroup_path = v; })},
      {"bpffs", false, last([](AgentConfig& c, S, S v) { c.bpffs = v; })},
      {"pin-name", false, last([](AgentConfig& c, S flag, S v) {
         if (v.empty() || v.find('/') != std::string::npos || v == "." || v == "..")
           throw std::invalid_argument(flag + ": '" + v + "' must be a plain directory name");
         c.pin_name = v;
       })},
      {"listen", false, last([](AgentConfig& c, S flag, S v) {
         std::tie(c.listen_address, c.listen_port) = parse_endpoint(flag, v);
         if (c.listen_address.find(':') != std::string::npos) throw std::invalid_argument(flag + " must be IPv4");
       })},
      {"listen6", false, last([](AgentConfig& c, S flag, S v) {
         // Same port as --listen: the kernel rewrites every redirect to one agent port.
         if (v.find(':') == std::string::npos || !is_ip_literal(v))
           throw std::invalid_argument(flag + ": '" + v + "' is not an IPv6 address");
         c.listen_address6 = v;
       })},
      {"ops-listen", false, last([](AgentConfig& c, S flag, S v) { std::tie(c.ops_address, c.ops_port) = parse_endpoint(flag, v); })},
      {"decisions-listen", false, last([](AgentConfig& c, S flag, S v) {
         std::tie(c.decisions_address, c.decisions_port) = parse_endpoint(flag, v);
         if (!boost::asio::ip::make_address(c.decisions_address).is_loopback()) {
           throw std::invalid_argument(flag + ": '" + c.decisions_address +
                                       "' is not a loopback address (the decisions must not reach pods)");
         }
       })},
      {"conn-table-size", false, last([](AgentConfig& c, S flag, S v) {
         c.conn_table_size = static_cast<uint32_t>(parse_uint(flag, v, 1u << 24));
         if (c.conn_table_size == 0) throw std::invalid_argument(flag + " must be at least 1");
       })},
      {"conn-quota-per-pod", false, last([](AgentConfig& c, S flag, S v) {
         c.conn_quota_per_pod = static_cast<uint32_t>(parse_uint(flag, v, 1u << 24));
       })},
      {"host-hooks", false, last([](AgentConfig& c, S flag, S v) {
         if (v == "auto") c.host_hooks = HostHooksMode::kAuto;
         else if (v == "require") c.host_hooks = HostHooksMode::kRequire;
         else if (v == "off") c.host_hooks = HostHooksMode::kOff;
         else throw std::invalid_argument(flag + ": '" + v + "' is not auto, require or off");
       })},
      {"uplink", true, [](AgentConfig& c, S flag, const Values& values) {
         c.uplinks = interface_names(flag, values);
       }},
      {"pod-interface-prefix", true, [](AgentConfig& c, S flag, const Values& values) {
         c.pod_interface_prefixes = interface_names(flag, values);
       }},
      {"max-entry-age-ms", false, last([](AgentConfig& c, S flag, S v) { c.max_entry_age = std::chrono::milliseconds(parse_uint(flag, v, 600000)); })},
      {"target", true, [](AgentConfig& c, S, const Values& values) {
         c.targets.clear();
         for (const auto& spec : values) c.targets.push_back(TargetRule::parse(spec));
       }},
      {"exempt-cgroup", true, [](AgentConfig& c, S, const Values& values) {
         for (const auto& dir : values) c.exempt_cgroups.emplace_back(dir);
       }},
      {"log-level", false, last([](AgentConfig& c, S flag, S v) {
         if (!log::parse_level(v)) throw std::invalid_argument(flag + ": '" + v + "' is not debug, info, warn or error");
         c.log_level = v;
       })},
      {"kube", false, last([](AgentConfig& c, S flag, S v) { c.kube_enabled = parse_bool(flag, v); })},
      {"node-name", false, last([](AgentConfig& c, S flag, S v) {
         // A DNS subdomain (RFC 1123), as Kubernetes requires of node names.
         bool ok = !v.empty() && v.size() <= 253;
         for (char ch : v) ok = ok && (std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.');
         if (!ok) throw std::invalid_argument(flag + ": '" + v + "' is not a Kubernetes node name");
         c.node_name = v;
       })},
      {"kubeconfig", false, last([](AgentConfig& c, S, S v) { c.kubeconfig = v; })},
      {"startup-taint", false, last([](AgentConfig& c, S, S v) { c.startup_taint = v; })},
      {"mode", false, last([](AgentConfig& c, S flag, S v) {
         if (v == "standard") c.mode = OperationMode::kStandard;
         else if (v == "managed") c.mode = OperationMode::kManaged;
         else if (v == "federated") c.mode = OperationMode::kFederated;
         else throw std::invalid_argument(flag + ": '" + v + "' is not standard, managed or federated");
       })},
      {"federated", false, last([](AgentConfig& c, S flag, S v) { c.federated = parse_bool(flag, v); })},
      {"token-request-credential", false, last([](AgentConfig& c, S flag, S v) {
         if (v == "kubelet") c.token_request_identity = TokenRequestIdentity::kKubelet;
         else if (v == "service-account") c.token_request_identity = TokenRequestIdentity::kServiceAccount;
         else throw std::invalid_argument(flag + ": '" + v + "' is not kubelet or service-account");
       })},
      {"kubelet-kubeconfig", false, last([](AgentConfig& c, S flag, S v) {
         if (v.empty()) throw std::invalid_argument(flag + " must name a file");
         c.kubelet_kubeconfig = v;
       })},
      {"token-audience", false, last([](AgentConfig& c, S flag, S v) {
         if (v.empty() || v.find_first_of(" \t\r\n") != std::string::npos)
           throw std::invalid_argument(flag + ": '" + v + "' is not an audience (non-empty, no spaces)");
         c.token_audience = v;
       })},
      {"token-expiration-seconds", false, last([](AgentConfig& c, S flag, S v) {
         auto n = parse_uint(flag, v, 86400);
         if (n < 600) throw std::invalid_argument(flag + ": " + v + " is below 600 (the API's minimum)");
         c.token_expiration = std::chrono::seconds(n);
       })},
      {"federated-authority", false, last([](AgentConfig& c, S flag, S v) {
         bool scheme = v.rfind("https://", 0) == 0 || v.rfind("http://", 0) == 0;
         if (!scheme || v.find_first_of("?#") != std::string::npos)
           throw std::invalid_argument(flag + ": '" + v + "' is not an https:// URL without query");
         c.federated_authority = v;
       })},
      {"federated-tenant-id", false, last([](AgentConfig& c, S flag, S v) {
         bool ok = !v.empty() && v.size() <= 256;
         for (char ch : v) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_');
         if (!ok) throw std::invalid_argument(flag + ": '" + v + "' is not a tenant id (a GUID or a domain)");
         c.federated_tenant_id = v;
       })},
      {"force-namespaced", false, last([](AgentConfig& c, S flag, S v) { c.force_namespaced = parse_bool(flag, v); })},
      {"strict-default-identity", false, last([](AgentConfig& c, S flag, S v) { c.strict_default_identity = parse_bool(flag, v); })},
      {"verify-source-ip", false, last([](AgentConfig& c, S flag, S v) { c.verify_source_ip = parse_bool(flag, v); })},
      {"imds-upstream", false, last([](AgentConfig& c, S flag, S v) {
         if (v.rfind("http://", 0) != 0 || v.size() <= 7 || v.find_first_of("?#", 7) != std::string::npos)
           throw std::invalid_argument(flag + ": '" + v + "' is not an http:// URL without query");
         c.imds_upstream = v.back() == '/' ? v.substr(0, v.size() - 1) : v;
       })},
      {"not-ready-status", false, last([](AgentConfig& c, S flag, S v) {
         if (v == "404") c.not_ready_answer = NotReadyAnswer::k404;
         else if (v == "503") c.not_ready_answer = NotReadyAnswer::k503;
         else throw std::invalid_argument(flag + ": '" + v + "' is not 404 or 503");
       })},
      {"not-ready-retry-after-seconds", false, last([](AgentConfig& c, S flag, S v) {
         c.not_ready_retry_after = std::chrono::seconds(parse_uint(flag, v, 3600));
       })},
      {"assignment-wait-ms", false, last([](AgentConfig& c, S flag, S v) {
         c.assignment_wait = std::chrono::milliseconds(parse_uint(flag, v, 10000));
       })},
      {"token-cache-entries", false, last([](AgentConfig& c, S flag, S v) {
         c.token_cache_entries = static_cast<uint32_t>(parse_uint(flag, v, 1u << 20));
         if (c.token_cache_entries == 0) throw std::invalid_argument(flag + " must be at least 1");
       })},
      {"upstream-timeout-ms", false, last([](AgentConfig& c, S flag, S v) {
         c.upstream_timeout = std::chrono::milliseconds(parse_uint(flag, v, 120000));
         if (c.upstream_timeout.count() == 0) throw std::invalid_argument(flag + " must be at least 1");
       })},
      {"passthrough", false, last([](AgentConfig& c, S flag, S v) { c.passthrough = parse_bool(flag, v); })},
      {"passthrough-prefix", true, [](AgentConfig& c, const std::string& flag, const Values& values) {
         c.passthrough_prefixes.clear();
         for (const auto& p : values) {
           if (p.rfind("/metadata/", 0) != 0) throw std::invalid_argument(flag + ": '" + p + "' does not start with /metadata/");
           c.passthrough_prefixes.push_back(p);
         }
       }},
      {"block-instance-metadata", false, last([](AgentConfig& c, S flag, S v) { c.block_instance_metadata = parse_bool(flag, v); })},
      {"max-connections-per-pod", false, last([](AgentConfig& c, S flag, S v) {
         c.max_connections_per_pod = static_cast<uint32_t>(parse_uint(flag, v, 100000));
         if (c.max_connections_per_pod == 0) throw std::invalid_argument(flag + " must be at least 1");
       })},
  };
  return kSpecs;
}

}  // namespace

Invocation parse_agent_args(int argc, const char* const argv[]) {
  Invocation inv;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    std::string_view cmd = argv[i++];
    if (cmd == "run") inv.command = Command::kRun;
    else if (cmd == "uninstall") inv.command = Command::kUninstall;
    else if (cmd == "probe") inv.command = Command::kProbe;
    else if (cmd == "version") inv.command = Command::kVersion;
    else if (cmd == "help") inv.command = Command::kHelp;
    else throw std::invalid_argument("unknown command '" + std::string(cmd) + "'; try 'podid-agent help'");
  }
  bool help = false;
  auto flags = config::gather_flags(argc, argv, i, config::flag_names(flag_specs()), "podid-agent", &help);
  if (help) {
    inv.command = Command::kHelp;
    return inv;
  }
  AgentConfig& c = inv.config;
  config::apply_flags(flag_specs(), flags, c);
  if (c.listen_port == 0) throw std::invalid_argument("--listen: port 0 is not allowed (the kernel redirects to it)");
  if (c.mode == OperationMode::kFederated && !c.federated) {
    throw std::invalid_argument("--mode federated serves federated identities only: it cannot run with --federated false");
  }
  if (inv.command == Command::kRun && c.kube_enabled && c.node_name.empty()) {
    throw std::invalid_argument("--node-name is required (or PODID_NODE_NAME; --kube off serves the kernel path only)");
  }
  return inv;
}

}  // namespace podid::agent
