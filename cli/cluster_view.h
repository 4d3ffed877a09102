// SPDX-License-Identifier: Apache-2.0
//
// The cluster as `podid doctor` and `podid explain` see it: what the API server listed (ListedObjects, JSON as
// served), parsed with the same parsers the agent and the controller use (podid/crd), and loaded into the
// agent's own IdentityStore, so that every answer about "which identity would this pod get" comes from the
// agent's selection code (agent/identity/selection.h), not from a copy of it. Pure: no I/O.
//
// Objects that fail to parse are kept in `invalid` (the agent and the controller skip them too).
//
// Errors: none; see `invalid`.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity/identity_store.h"
#include "podid/crd/crd_types.h"
#include "podid/crd/workload_identity.h"

namespace podid::cli {

// Labels AKS puts on its nodes.
inline constexpr std::string_view kAksNetworkPluginLabel = "kubernetes.azure.com/network-plugin";
inline constexpr std::string_view kAksAgentPoolLabel = "kubernetes.azure.com/agentpool";

// The labels podid's agent DaemonSet puts on its pods (deploy/manifests/11-agent-daemonset.yaml, the chart).
inline constexpr std::string_view kAgentNameLabel = "app.kubernetes.io/name";
inline constexpr std::string_view kAgentNameValue = "podid";
inline constexpr std::string_view kAgentComponentLabel = "app.kubernetes.io/component";
inline constexpr std::string_view kAgentComponentValue = "agent";

struct ListedObjects {
  std::vector<nlohmann::json> identities, bindings, assigned, exceptions, pods, nodes, service_accounts;
};

struct NodeFacts {
  std::string name, provider_id;
  bool ready = false;  // status.conditions Ready=True
  std::string kernel_version, container_runtime;  // status.nodeInfo.kernelVersion, .containerRuntimeVersion
  std::string network_plugin;  // AKS's label kubernetes.azure.com/network-plugin ("azure", "kubenet", "none")
  std::string pool;            // AKS's label kubernetes.azure.com/agentpool
};

struct AgentFacts {
  std::string pod, node;
  bool ready = false;  // status.conditions Ready=True: the agent's /readyz said its programs are attached
};

struct InvalidObject {
  std::string kind, key, error;
};

struct ClusterView {
  std::vector<crd::AzureIdentity> identities;
  std::vector<crd::AzureIdentityBinding> bindings;
  std::vector<crd::AzureAssignedIdentity> assigned;
  std::vector<crd::PodInfo> pods;  // every pod, parsed
  std::vector<NodeFacts> nodes;
  std::vector<AgentFacts> agents;  // agent pods in podid's namespace
  // Service accounts that name an identity by Azure Workload Identity's annotation (client_id set).
  std::vector<crd::WorkloadServiceAccount> workload_accounts;
  // "AzureIdentity ns/name" / "AzureIdentityBinding ns/name" -> "Reason: message" of its False conditions.
  std::map<std::string, std::string, std::less<>> false_conditions;
  std::vector<InvalidObject> invalid;
  // The agent's store over the same objects (held by pointer: its indexes point into itself).
  std::unique_ptr<agent::IdentityStore> store;

  const crd::PodInfo* pod(std::string_view ns, std::string_view name) const;
  const NodeFacts* node(std::string_view name) const;
};

// `podid_namespace`: where the agent DaemonSet runs (podid-system unless installed elsewhere).
ClusterView build_view(const ListedObjects& listed, std::string_view podid_namespace);

// A pod that still runs or will run (not Succeeded or Failed): the only ones that can ask for a token.
bool is_live(const crd::PodInfo& pod);

}  // namespace podid::cli
