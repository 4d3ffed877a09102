// SPDX-License-Identifier: Apache-2.0
//
// Builders for aadpodidentity.k8s.io objects as the API server returns them (camelCase, v1.6+), so tests
// state only what they vary.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "podid/crd/crd_types.h"

namespace podid::agent::testing {

using namespace podid::crd;

using nlohmann::json;

inline constexpr const char* kCidA = "aaaaaaaa-1111-4111-8111-00000000000a";
inline constexpr const char* kCidB = "bbbbbbbb-2222-4222-8222-00000000000b";
inline constexpr const char* kCidX = "cccccccc-3333-4333-8333-00000000000c";
inline constexpr const char* kOidA = "0a0a0a0a-aaaa-4aaa-8aaa-0000000000a0";
inline constexpr const char* kOidB = "0b0b0b0b-bbbb-4bbb-8bbb-0000000000b0";

inline std::string resource_id(const std::string& name) {
  return "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-ids/providers/"
         "Microsoft.ManagedIdentity/userAssignedIdentities/" +
         name;
}

inline json metadata(const std::string& ns, const std::string& name, const std::string& rv) {
  return {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}};
}

struct IdentitySpec {
  std::string ns = "app";
  std::string name;
  std::string client_id;
  std::string resource_id;  // empty: none
  int type = 0;
  std::string behavior;   // annotation value; empty: no annotation
  std::string principal;  // podid.io/principal-id; empty: none
  std::string federated;  // podid.io/federated; empty: none
  std::string rv = "1";
};

inline json identity_json(const IdentitySpec& s) {
  json o = {{"apiVersion", "aadpodidentity.k8s.io/v1"},
            {"kind", "AzureIdentity"},
            {"metadata", metadata(s.ns, s.name, s.rv)},
            {"spec", {{"type", s.type}, {"clientID", s.client_id}}}};
  if (!s.resource_id.empty()) o["spec"]["resourceID"] = s.resource_id;
  if (!s.behavior.empty()) o["metadata"]["annotations"]["aadpodidentity.k8s.io/Behavior"] = s.behavior;
  if (!s.principal.empty()) o["metadata"]["annotations"]["podid.io/principal-id"] = s.principal;
  if (!s.federated.empty()) o["metadata"]["annotations"]["podid.io/federated"] = s.federated;
  return o;
}

struct BindingSpec {
  std::string ns = "app";
  std::string name;
  std::string identity;
  std::string selector = "web";
  std::string rv = "1";
};

inline json binding_json(const BindingSpec& s) {
  return {{"apiVersion", "aadpodidentity.k8s.io/v1"},
          {"kind", "AzureIdentityBinding"},
          {"metadata", metadata(s.ns, s.name, s.rv)},
          {"spec", {{"azureIdentity", s.identity}, {"selector", s.selector}, {"weight", 10}}}};
}

struct AssignedSpec {
  std::string pod_ns = "app";
  std::string pod = "web";
  std::string identity_ns = "app";
  std::string identity;
  std::string client_id;
  std::string state = "Assigned";  // empty: no status at all (legacy)
  std::string node = "node-1";
  std::string rv = "1";
};

inline json assigned_json(const AssignedSpec& s) {
  json o = {{"apiVersion", "aadpodidentity.k8s.io/v1"},
            {"kind", "AzureAssignedIdentity"},
            {"metadata", metadata("default", s.pod + "-" + s.pod_ns + "-" + s.identity, s.rv)},
            {"spec",
             {{"pod", s.pod},
              {"podNamespace", s.pod_ns},
              {"nodename", s.node},
              {"azureIdentityRef",
               {{"metadata", {{"namespace", s.identity_ns}, {"name", s.identity}}},
                {"spec", {{"type", 0}, {"clientID", s.client_id}}}}},
              {"azureBindingRef", {{"metadata", {{"namespace", s.identity_ns}, {"name", "binding"}}}}}}}};
  if (!s.state.empty()) o["status"] = {{"status", s.state}, {"availableReplicas", 1}};
  return o;
}

inline json exception_json(const std::string& ns, const std::string& name,
                           std::vector<std::pair<std::string, std::string>> labels) {
  json l = json::object();
  for (auto& [k, v] : labels) l[k] = v;
  return {{"apiVersion", "aadpodidentity.k8s.io/v1"},
          {"kind", "AzurePodIdentityException"},
          {"metadata", metadata(ns, name, "1")},
          {"spec", {{"podLabels", l}}}};
}

inline PodInfo pod(std::string ns, std::string name, Labels labels, bool host_network = false) {
  PodInfo p;
  p.uid = "uid-" + name;
  p.ns = std::move(ns);
  p.name = std::move(name);
  p.node = "node-1";
  p.labels = std::move(labels);
  p.pod_ips = {"10.244.1.7"};
  p.host_network = host_network;
  p.phase = "Running";
  p.service_account = "default";
  return p;
}

}  // namespace podid::agent::testing
