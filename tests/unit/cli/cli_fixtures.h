// SPDX-License-Identifier: Apache-2.0
//
// A cluster for doctor's unit tests: the CRD builders (common/crd/crd_fixtures.h) plus pods, nodes and agent pods
// as the API server lists them.
#pragma once

#include <map>
#include <string>

#include "cli/cluster_checks.h"
#include "cli/cluster_view.h"
#include "common/crd/crd_fixtures.h"

namespace podid::cli::testing {

using namespace podid::agent::testing;

inline constexpr const char* kVmss =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MC_rg/providers/Microsoft.Compute/"
    "virtualMachineScaleSets/pool1";

inline json pod_json(const std::string& ns, const std::string& name, std::map<std::string, std::string> labels,
                     const std::string& node = "node-1", const std::string& phase = "Running") {
  json l = json::object();
  for (auto& [k, v] : labels) l[k] = v;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"uid", "uid-" + name}, {"labels", l}}},
          {"spec", {{"nodeName", node}, {"serviceAccountName", "default"}}},
          {"status", {{"phase", phase}, {"podIP", "10.244.1.7"}}}};
}

inline json agent_json(const std::string& node, bool ready = true) {
  json p = pod_json("podid-system", "podid-agent-" + node,
                    {{"app.kubernetes.io/name", "podid"}, {"app.kubernetes.io/component", "agent"}}, node);
  p["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}});
  return p;
}

inline json node_json(const std::string& name, const std::string& provider_id = std::string("azure://") + kVmss +
                                                                                   "/virtualMachines/0") {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}}},
          {"spec", {{"providerID", provider_id}}},
          {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

// A healthy cluster to start from: identity app/web-id on node-1's scale set, its binding, a pod using it with
// its AzureAssignedIdentity Assigned, and a Ready agent on node-1.
inline ListedObjects healthy() {
  ListedObjects l;
  l.identities.push_back(identity_json({.name = "web-id", .client_id = kCidA, .resource_id = resource_id("web-id")}));
  l.bindings.push_back(binding_json({.name = "web-binding", .identity = "web-id", .selector = "web"}));
  l.pods.push_back(pod_json("app", "web", {{"aadpodidbinding", "web"}}));
  l.assigned.push_back(assigned_json({.identity = "web-id", .client_id = kCidA}));
  l.nodes.push_back(node_json("node-1"));
  l.pods.push_back(agent_json("node-1"));
  return l;
}

inline DoctorPolicy standard_policy() { return DoctorPolicy{}; }

}  // namespace podid::cli::testing
