// SPDX-License-Identifier: Apache-2.0
//
// A cluster as the controller's caches would hold it, built object by object from API-server JSON (parsed with
// the same parsers the informers use), so each test states only what it varies.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/crd/crd_fixtures.h"
#include "controller/state/desired_state.h"
#include "controller/state/records.h"

namespace podid::controller::testing {

using namespace podid::agent::testing;  // identity_json, binding_json, resource_id, kCid*
using nlohmann::json;

inline constexpr const char* kSub = "00000000-0000-0000-0000-0000000000aa";

// spec.providerID of a uniform VMSS instance, a standalone VM, and a VMSS Flex member (which looks like a VM).
inline std::string vmss_instance(const std::string& vmss, int instance,
                                 const std::string& rg = "MC_rg_aks_westeurope") {
  return "azure:///subscriptions/" + std::string(kSub) + "/resourceGroups/" + rg +
         "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss + "/virtualMachines/" +
         std::to_string(instance);
}
inline std::string vm(const std::string& name, const std::string& rg = "MC_rg_aks_westeurope") {
  return "azure:///subscriptions/" + std::string(kSub) + "/resourceGroups/" + rg +
         "/providers/Microsoft.Compute/virtualMachines/" + name;
}
// The compute key of a scale set / VM as desired state names it.
inline std::string vmss_key(const std::string& vmss, const std::string& rg = "MC_rg_aks_westeurope") {
  return arm::canonical_key("/subscriptions/" + std::string(kSub) + "/resourceGroups/" + rg +
                            "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss);
}
inline std::string vm_key(const std::string& name, const std::string& rg = "MC_rg_aks_westeurope") {
  return arm::canonical_key("/subscriptions/" + std::string(kSub) + "/resourceGroups/" + rg +
                            "/providers/Microsoft.Compute/virtualMachines/" + name);
}

struct PodSpec {
  std::string ns = "app";
  std::string name = "web-0";
  std::string selector = "web";  // value of the aadpodidbinding label; empty: no label
  std::string node = "node-1";   // empty: not scheduled
  std::string phase = "Running";
  bool deleting = false;
};

inline json pod_json(const PodSpec& s) {
  json o = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"namespace", s.ns}, {"name", s.name}, {"uid", "uid-" + s.ns + "-" + s.name}}},
            {"spec", json::object()},
            {"status", {{"phase", s.phase}}}};
  if (!s.selector.empty()) o["metadata"]["labels"] = {{"aadpodidbinding", s.selector}, {"app", "web"}};
  if (!s.node.empty()) o["spec"]["nodeName"] = s.node;
  if (s.deleting) o["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z";
  return o;
}

template <class T, class Parse>
std::shared_ptr<const Cached<T>> cached(const json& raw, Parse parse) {
  auto r = parse(raw);
  EXPECT_TRUE(r.ok()) << r.error().message();
  auto shared = std::make_shared<const json>(raw);
  if (!r.ok()) return std::make_shared<const Cached<T>>(Cached<T>{T{}, shared});
  return std::make_shared<const Cached<T>>(Cached<T>{std::move(r.value()), shared});
}

inline PodRecord pod_of(const json& raw) {
  auto r = pod_record(raw);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? std::move(r.value()) : PodRecord{};
}

// An AzureAssignedIdentity as the cache holds it.
inline std::shared_ptr<const AssignedRecord> existing_record(const json& raw) {
  auto r = assigned_record(raw);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return std::make_shared<const AssignedRecord>(r.ok() ? std::move(r.value()) : AssignedRecord{});
}

// Builds a ClusterSnapshot object by object.
struct World {
  ClusterSnapshot snapshot;

  World& node(const std::string& name, const std::string& provider_id) {
    snapshot.node_provider_ids[name] = provider_id;
    return *this;
  }
  World& pod(const PodSpec& s) { return pod_raw(pod_json(s)); }
  World& pod_raw(const json& raw) {
    snapshot.pods.push_back(pod_of(raw));
    return *this;
  }
  World& identity(const IdentitySpec& s) { return identity_raw(identity_json(s)); }
  World& identity_raw(const json& raw) {
    snapshot.identities.push_back(cached<crd::AzureIdentity>(raw, crd::parse_azure_identity));
    return *this;
  }
  World& binding(const BindingSpec& s) { return binding_raw(binding_json(s)); }
  World& binding_raw(const json& raw) {
    snapshot.bindings.push_back(cached<crd::AzureIdentityBinding>(raw, crd::parse_azure_identity_binding));
    return *this;
  }
  // The usual pair: identity `name` (type 0, resource id resource_id(name)) and binding "<name>-binding" with
  // `selector`, both in `ns`.
  World& bound_identity(const std::string& ns, const std::string& name, const std::string& selector = "web") {
    identity({.ns = ns, .name = name, .client_id = kCidA, .resource_id = resource_id(name)});
    return binding({.ns = ns, .name = name + "-binding", .identity = name, .selector = selector});
  }

  DesiredState desired() const { return compute_desired_state(snapshot); }
};

}  // namespace podid::controller::testing
