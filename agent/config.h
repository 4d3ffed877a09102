// SPDX-License-Identifier: Apache-2.0
//
// podid-agent's configuration: one aggregate, every field documented and defaulted. Parsed in config.cpp and
// nowhere else, from (highest first) flags, PODID_<FLAG> environment variables, and an optional JSON file
// (--config) whose keys are the flag names. Tests build it with designated initializers. Invalid values throw
// std::invalid_argument naming the flag (or the file and key) from parse_agent_args: start-up only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "podid/bpf/imds_redirect_abi.h"

namespace podid::agent {

// One line of the kernel's target table: what to do with traffic to addr:port over proto.
struct TargetRule {
  podid_action action = PODID_ACTION_DENY;
  uint8_t proto = PODID_PROTO_ANY;  // PODID_PROTO_TCP, PODID_PROTO_UDP or PODID_PROTO_ANY
  std::string addr;                 // IPv4 or IPv6 literal
  uint16_t port = 0;                // 0 = any port

  // "redirect:tcp:169.254.169.254:80", "deny:any:169.254.169.254:0", "allow:any:168.63.129.16:53",
  // IPv6 in brackets: "deny:tcp:[fd00:ec2::254]:80".
  static TargetRule parse(const std::string& spec);
  std::string to_string() const;
};

// Azure: IMDS over TCP 80 goes to the agent; any other use of the IMDS address is refused. WireServer
// (168.63.129.16) is refused on 80 and 32526, where it hands out node secrets, and left open on 53, where
// Azure DNS answers.
std::vector<TargetRule> default_azure_targets();

inline constexpr const char* kDefaultAgentAddress = "169.254.32.1";  // link-local, not a cloud service address
inline constexpr uint16_t kDefaultAgentPort = 2579;                  // aad-pod-identity NMI's port
inline constexpr const char* kDefaultOpsAddress = "127.0.0.1";
inline constexpr uint16_t kDefaultOpsPort = 9102;
inline constexpr const char* kDefaultDecisionsAddress = "127.0.0.1";
inline constexpr uint16_t kDefaultDecisionsPort = 9103;
inline constexpr uint32_t kDefaultConnTableSize = 65536;
inline constexpr uint32_t kDefaultConnQuotaPerPod = 256;
inline constexpr std::chrono::milliseconds kDefaultMaxEntryAge{5000};
inline constexpr const char* kDefaultImdsUpstream = "http://169.254.169.254";

// How identities are chosen (aad-pod-identity's --operation-mode, plus federated).
enum class OperationMode {
  kStandard,   // the controller assigns identities; serve one once the pod's AzureAssignedIdentity is Assigned
  kManaged,    // identities are pre-assigned to the VMSS; bindings in the pod's namespace only
  kFederated,  // federated identities only (no controller, nothing on scale sets); others are refused
};

// The frame hooks (docs/security.md): netfilter pre-routing (6.4+) and tcx on pod interfaces and the uplink
// (6.6+), for what no cgroup hook sees (AF_PACKET frames, a pod sending as another).
enum class HostHooksMode {
  kAuto,     // attach what this kernel supports; /readyz and podid_bpf_host_hook say which are active
  kRequire,  // refuse to start unless every frame hook can be attached
  kOff,      // none (pods holding NET_RAW can then reach the metadata service with hand-made frames)
};

// Who the agent is when it asks the API server for a pod's service-account token (docs/security.md).
enum class TokenRequestIdentity {
  kKubelet,         // the node's own credential (--kubelet-kubeconfig): confined to this node's pods
  kServiceAccount,  // the agent's own client, with create serviceaccounts/token: not confined (fallback)
};

inline constexpr const char* kDefaultKubeletKubeconfig = "/var/lib/kubelet/kubeconfig";
inline constexpr const char* kDefaultTokenAudience = "api://AzureADTokenExchange";

// The answer for "your identity exists but is not assigned yet" (standard mode): both are retried by every
// SDK; 503 carries Retry-After, which @azure/identity needs to retry a 503.
enum class NotReadyAnswer { k404, k503 };

struct AgentConfig {
  // cgroup v2 directory the programs attach to (the kubepods cgroup). Empty: <cgroup2 mount>/kubepods.slice
  // (systemd driver) or <cgroup2 mount>/kubepods (cgroupfs driver), whichever exists.
  std::filesystem::path cgroup_path;
  // bpffs mount; mounted there if nothing is.
  std::filesystem::path bpffs = "/sys/fs/bpf";
  // Pins live in <bpffs>/<pin_name>/v<ABI>/{maps,links}. Changed only to run isolated instances (tests).
  std::string pin_name = "podid";
  // Where redirected connections land: the agent listens here and the kernel rewrites to it.
  std::string listen_address = kDefaultAgentAddress;
  uint16_t listen_port = kDefaultAgentPort;
  // Redirect address for native IPv6 targets, on listen_port; empty: such connections are refused.
  std::string listen_address6;
  // /metrics, /healthz, /readyz. Port 0 picks a free one (logged at start).
  std::string ops_address = kDefaultOpsAddress;
  uint16_t ops_port = kDefaultOpsPort;
  // The last token decisions per pod, for `podid explain` (agent/serve/decision_routes.h). A loopback address
  // only: what it serves must not reach pods (docs/security.md). Port 0 picks a free one (logged at start).
  std::string decisions_address = kDefaultDecisionsAddress;
  uint16_t decisions_port = kDefaultDecisionsPort;
  // conn_ident capacity: connections in flight between connect() and the agent's accept(). A full table
  // refuses new entries (those callers get 403), it never evicts.
  uint32_t conn_table_size = kDefaultConnTableSize;
  // Redirected connections one pod may hold open at once (its share of conn_ident); more are refused and
  // counted, so one pod cannot fill the table for the others. 0: no limit.
  uint32_t conn_quota_per_pod = kDefaultConnQuotaPerPod;
  // Frame hooks, and where they go.
  HostHooksMode host_hooks = HostHooksMode::kAuto;
  // The node's uplinks (tcx egress); empty: the interfaces holding the default routes.
  std::vector<std::string> uplinks;
  // Name prefixes of pods' host-side interfaces; empty: every veth (or netkit) whose peer is in another
  // network namespace and is not an uplink.
  std::vector<std::string> pod_interface_prefixes;
  // An entry older than this at accept() is refused: it cannot belong to a connection just accepted.
  std::chrono::milliseconds max_entry_age = kDefaultMaxEntryAge;
  // The kernel's target table.
  std::vector<TargetRule> targets = default_azure_targets();
  // Extra cgroup directories whose processes reach targets untouched (the agent's own is always added).
  std::vector<std::filesystem::path> exempt_cgroups;
  // debug, info, warn, error.
  std::string log_level = "info";

  // --- Kubernetes ---
  // false: serve only the kernel path (the whoami diagnostic), no tokens. For kernel tests and `probe`.
  bool kube_enabled = true;
  // This node's name (the pod watch is spec.nodeName=<node_name>). Required when kube_enabled.
  std::string node_name;
  // Empty: in-cluster configuration (service account token and CA, KUBERNETES_SERVICE_HOST).
  std::filesystem::path kubeconfig;
  // A taint removed from this node once the agent is ready (pods tolerating nothing wait for it); empty: none.
  std::string startup_taint;

  // --- Identity choice ---
  OperationMode mode = OperationMode::kStandard;
  // Only bindings and identities in the pod's namespace count (aad-pod-identity's --forceNamespaced).
  bool force_namespaced = false;
  // A pod with several identities that names none gets Azure's "Multiple user assigned identities" answer
  // instead of the documented default (the first by identity namespace and name).
  bool strict_default_identity = false;
  // Refuse a connection whose source address is not one of its pod's IPs (pods not on hostNetwork).
  bool verify_source_ip = true;

  // --- Tokens ---
  // The real IMDS, reached from the agent's cgroup (exempt from the redirect).
  std::string imds_upstream = kDefaultImdsUpstream;
  NotReadyAnswer not_ready_answer = NotReadyAnswer::k404;
  std::chrono::seconds not_ready_retry_after{5};
  // How long a request for a not-yet-assigned identity may wait for the assignment before the fast answer.
  std::chrono::milliseconds assignment_wait{0};
  uint32_t token_cache_entries = 4096;
  std::chrono::milliseconds upstream_timeout{10000};

  // --- Federated identities (AzureIdentity with podid.io/federated, and Azure Workload Identity's conventions) ---
  // false: no federated identity is served and service accounts are not watched.
  bool federated = true;
  TokenRequestIdentity token_request_identity = TokenRequestIdentity::kKubelet;
  std::filesystem::path kubelet_kubeconfig = kDefaultKubeletKubeconfig;
  // The audience of the service-account tokens presented to Entra ID (what federated credentials name).
  std::string token_audience = kDefaultTokenAudience;
  // Their lifetime: at least 600 s (the API's minimum), at most 86400 s; renewed at 80%.
  std::chrono::seconds token_expiration{3600};
  // Entra ID authority for identities that do not name one (spec.adEndpoint); empty: public cloud.
  std::string federated_authority;
  // Tenant for identities that do not name one (spec.tenantID, annotation azure.workload.identity/tenant-id), as
  // azwi's webhook falls back to its AZURE_TENANT_ID.
  std::string federated_tenant_id;

  // --- Other IMDS paths ---
  bool passthrough = true;
  bool block_instance_metadata = false;
  std::vector<std::string> passthrough_prefixes;  // empty: the default allow-list (agent/imds/passthrough.h)

  // --- Limits ---
  uint32_t max_connections_per_pod = 64;
};

enum class Command { kRun, kUninstall, kProbe, kVersion, kHelp };

struct Invocation {
  Command command = Command::kRun;
  AgentConfig config;
};

// argv[1] is the command (run, uninstall, probe, version, help); flags follow. Throws std::invalid_argument
// naming the flag and the value on bad input.
Invocation parse_agent_args(int argc, const char* const argv[]);

std::string agent_usage();

}  // namespace podid::agent
