// SPDX-License-Identifier: Apache-2.0
#include "controller/state/desired_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> names(const DesiredState& s) {
  std::vector<std::string> out;
  for (const auto& a : s.assignments) out.push_back(a.ns + "/" + a.name);
  return out;
}

std::vector<std::string> reasons(const DesiredState& s) {
  std::vector<std::string> out;
  for (const auto& p : s.problems) out.push_back(p.reason + " " + p.kind + " " + p.ns + "/" + p.name);
  return out;
}

TEST(DesiredState, OnePodOneBindingOneIdentity) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).pod({}).bound_identity("app", "id-a");
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  const DesiredAssignment& a = s.assignments[0];
  EXPECT_EQ(a.name, "web-0-app-id-a");
  EXPECT_EQ(a.ns, "default");
  EXPECT_EQ(a.pod, "web-0");
  EXPECT_EQ(a.pod_namespace, "app");
  EXPECT_EQ(a.pod_uid, "uid-app-web-0");
  EXPECT_EQ(a.node, "node-1");
  ASSERT_NE(a.identity, nullptr);
  EXPECT_EQ(a.identity->object.name, "id-a");
  ASSERT_NE(a.binding, nullptr);
  EXPECT_EQ(a.binding->object.name, "id-a-binding");
  EXPECT_EQ(a.compute_key, vmss_key("pool1"));
  EXPECT_TRUE(a.needs_arm());
  ASSERT_EQ(s.computes.size(), 1u);
  const ComputeNeed& need = s.computes.at(vmss_key("pool1"));
  EXPECT_EQ(need.compute.kind, arm::ResourceKind::kScaleSet);
  EXPECT_EQ(need.compute.name, "pool1");
  EXPECT_EQ(need.compute.resource_group, "MC_rg_aks_westeurope");  // the node's own group, as written
  EXPECT_THAT(need.identity_ids, ElementsAre(resource_id("id-a")));
  EXPECT_THAT(need.nodes, ElementsAre("node-1"));
  EXPECT_THAT(s.problems, IsEmpty());
}

TEST(DesiredState, SelectorMatchesExactlyAndCaseSensitively) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.name = "exact", .selector = "web"})
      .pod({.name = "upper", .selector = "Web"})
      .pod({.name = "space", .selector = "web2"})
      .bound_identity("app", "id-a", "web");
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("default/exact-app-id-a"));
}

TEST(DesiredState, PodWithoutTheLabelNeedsNothing) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).pod({.selector = ""}).bound_identity("app", "id-a");
  auto s = w.desired();
  EXPECT_THAT(s.assignments, IsEmpty());
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, IsEmpty());
}

TEST(DesiredState, BindingInAnotherNamespaceMatchesOutsideNamespacedMode) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).pod({.ns = "app"}).bound_identity("shared", "id-s");
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("default/web-0-app-id-s"));
}

TEST(DesiredState, NamespacedFlagRequiresOneNamespace) {
  World w;
  w.snapshot.force_namespaced = true;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.ns = "app", .name = "web-0"})
      .bound_identity("shared", "id-s")
      .bound_identity("app", "id-a");
  auto s = w.desired();
  // Only the same-namespace identity, and the AAI lives in the identity's namespace.
  EXPECT_THAT(names(s), ElementsAre("app/web-0-app-id-a"));
  EXPECT_THAT(s.problems, IsEmpty());
}

TEST(DesiredState, NamespacedAnnotationOnOneIdentity) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.ns = "app", .name = "web-0"})
      .identity({.ns = "shared",
                 .name = "id-ns",
                 .client_id = kCidA,
                 .resource_id = resource_id("ns"),
                 .behavior = "Namespaced"})
      .binding({.ns = "shared", .name = "b-ns", .identity = "id-ns"})
      .identity({.ns = "app",
                 .name = "id-local",
                 .client_id = kCidA,
                 .resource_id = resource_id("local"),
                 .behavior = "namespaced"})
      .binding({.ns = "app", .name = "b-local", .identity = "id-local"})
      .bound_identity("shared", "id-open");
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("app/web-0-app-id-local", "default/web-0-app-id-open"));
}

TEST(DesiredState, FinishedAndUnscheduledPodsNeedNothingButDeletingPodsStillDo) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.name = "running"})
      .pod({.name = "pending", .phase = "Pending"})
      .pod({.name = "unknown", .phase = "Unknown"})
      .pod({.name = "succeeded", .phase = "Succeeded"})
      .pod({.name = "failed", .phase = "Failed"})
      .pod({.name = "deleting", .deleting = true})
      .pod({.name = "unscheduled", .node = ""})
      .bound_identity("app", "id-a");
  auto s = w.desired();
  // A pod in its grace period still runs (and its shutdown code may call Azure): it keeps its identity.
  EXPECT_THAT(names(s), ElementsAre("default/deleting-app-id-a", "default/pending-app-id-a",
                                    "default/running-app-id-a", "default/unknown-app-id-a"));
}

TEST(DesiredState, MissingIdentityIsReportedOnceOnTheBinding) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.name = "web-0"})
      .pod({.name = "web-1"})
      .binding({.ns = "app", .name = "b", .identity = "nope"});
  auto s = w.desired();
  EXPECT_THAT(s.assignments, IsEmpty());
  EXPECT_THAT(reasons(s), ElementsAre("IdentityNotFound AzureIdentityBinding app/b"));
  EXPECT_THAT(s.problems[0].message, HasSubstr("app/nope"));
}

TEST(DesiredState, IdentityMustBeInTheBindingsNamespace) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.ns = "other", .name = "id-a", .client_id = kCidA, .resource_id = resource_id("a")})
      .binding({.ns = "app", .name = "b", .identity = "id-a"});
  auto s = w.desired();
  EXPECT_THAT(s.assignments, IsEmpty());
  EXPECT_THAT(reasons(s), ElementsAre("IdentityNotFound AzureIdentityBinding app/b"));
}

TEST(DesiredState, UserAssignedIdentityWithoutResourceIdIsDropped) {
  World w;
  // The parser accepts an empty resourceID (the agent can still serve by client id in managed mode); the
  // controller cannot assign it.
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.ns = "app", .name = "id-a", .client_id = kCidA})
      .binding({.ns = "app", .name = "b", .identity = "id-a"});
  auto s = w.desired();
  EXPECT_THAT(s.assignments, IsEmpty());
  EXPECT_THAT(reasons(s), ElementsAre("InvalidResourceID AzureIdentity app/id-a"));
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, IsEmpty());
}

TEST(DesiredState, UserAssignedIdentityWithMalformedResourceIdIsDropped) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).pod({}).binding({.ns = "app", .name = "b", .identity = "id-a"});
  // The parser refuses such objects; desired state does not rely on it.
  crd::AzureIdentity bad;
  bad.ns = "app";
  bad.name = "id-a";
  bad.client_id = kCidA;
  bad.resource_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm";
  w.snapshot.identities.push_back(std::make_shared<const IdentityRecord>(
      IdentityRecord{bad, std::make_shared<const json>(identity_json({.name = "id-a", .client_id = kCidA}))}));
  auto s = w.desired();
  EXPECT_THAT(s.assignments, IsEmpty());
  EXPECT_THAT(reasons(s), ElementsAre("InvalidResourceID AzureIdentity app/id-a"));
  EXPECT_THAT(s.problems[0].message, HasSubstr("virtualMachines/vm"));
}

TEST(DesiredState, ServicePrincipalsNeedNoArm) {
  World w;
  json sp = identity_json({.name = "sp", .client_id = kCidB, .type = 1});
  sp["spec"]["tenantID"] = "tenant";
  sp["spec"]["clientPassword"] = {{"name", "secret"}};
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity_raw(sp)
      .binding({.ns = "app", .name = "b", .identity = "sp"});
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  EXPECT_FALSE(s.assignments[0].needs_arm());
  EXPECT_EQ(s.assignments[0].compute_key, vmss_key("pool1"));
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, IsEmpty());
}

TEST(DesiredState, FederatedIdentitiesAreNeverPutOnTheCompute) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.name = "fed", .client_id = kCidB, .resource_id = resource_id("fed"), .federated = "true"})
      .identity({.name = "fed-bare", .client_id = kCidX, .federated = "true"})  // no resourceID: none needed
      .binding({.ns = "app", .name = "b", .identity = "fed"})
      .binding({.ns = "app", .name = "b2", .identity = "fed-bare"})
      .bound_identity("app", "standard");
  auto s = w.desired();
  EXPECT_THAT(s.problems, IsEmpty());
  ASSERT_EQ(s.assignments.size(), 3u);
  for (const auto& a : s.assignments) {
    EXPECT_EQ(a.needs_arm(), a.identity->object.name == "standard") << a.name;
  }
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("standard")));
}

TEST(DesiredState, ProviderIdsOfUniformVmssStandaloneVmAndFlex) {
  World w;
  w.node("vmss-b", vmss_instance("pool1", 3))
      .node("vmss-a", vmss_instance("pool1", 0))
      .node("standalone", vm("vm-standalone"))
      .node("flex-0", vm("pool2_1a2b3c4d"))
      .node("flex-1", vm("pool2_5e6f7a8b"))
      .pod({.name = "p-vmss", .node = "vmss-b"})
      .pod({.name = "p-vm", .node = "standalone"})
      .pod({.name = "p-flex", .node = "flex-0"})
      .bound_identity("app", "id-a");
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 3u);
  EXPECT_EQ(s.assignments[0].compute_key, vm_key("pool2_1a2b3c4d"));  // p-flex
  EXPECT_EQ(s.assignments[1].compute_key, vm_key("vm-standalone"));   // p-vm
  EXPECT_EQ(s.assignments[2].compute_key, vmss_key("pool1"));         // p-vmss
  // Every compute with a node gets an entry, needed or not (flex-1 has no pod).
  ASSERT_EQ(s.computes.size(), 4u);
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).nodes, ElementsAre("vmss-a", "vmss-b"));
  EXPECT_EQ(s.computes.at(vm_key("vm-standalone")).compute.kind, arm::ResourceKind::kVirtualMachine);
  EXPECT_EQ(s.computes.at(vm_key("pool2_1a2b3c4d")).compute.kind, arm::ResourceKind::kVirtualMachine);
  EXPECT_THAT(s.computes.at(vm_key("pool2_5e6f7a8b")).identity_ids, IsEmpty());
  EXPECT_THAT(s.computes.at(vm_key("pool2_5e6f7a8b")).nodes, ElementsAre("flex-1"));
  for (const char* key : {"pool1", "vm-standalone", "pool2_1a2b3c4d"}) {
    auto it = s.computes.find(std::string(key) == "pool1" ? vmss_key(key) : vm_key(key));
    ASSERT_NE(it, s.computes.end()) << key;
    EXPECT_THAT(it->second.identity_ids, ElementsAre(resource_id("id-a"))) << key;
  }
  EXPECT_THAT(s.problems, IsEmpty());
}

TEST(DesiredState, UnusableProviderIdsKeepTheAssignmentWithoutCompute) {
  World w;
  w.node("kind-node", "kind://docker/kind/kind-worker")
      .node("bare", "")
      .node("instance-less",
            "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
            "virtualMachineScaleSets/pool1")
      .node("good", vmss_instance("pool1", 0))
      .pod({.name = "a", .node = "kind-node"})
      .pod({.name = "b", .node = "kind-node"})
      .pod({.name = "c", .node = "bare"})
      .pod({.name = "d", .node = "instance-less"})
      .pod({.name = "e", .node = "ghost"})
      .bound_identity("app", "id-a");
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 5u);
  for (const auto& a : s.assignments) {
    EXPECT_EQ(a.compute_key, "") << a.name;
    EXPECT_TRUE(a.needs_arm()) << a.name;
  }
  // Once per node, only for nodes some assignment is on ("good" has no pod and no problem).
  EXPECT_THAT(reasons(s), ElementsAre("InvalidProviderID Node /kind-node", "InvalidProviderID Node /bare",
                                      "InvalidProviderID Node /instance-less", "InvalidProviderID Node /ghost"));
  EXPECT_THAT(s.problems[0].message, HasSubstr("kind://"));
  EXPECT_THAT(s.problems[1].message, HasSubstr("no spec.providerID"));
  EXPECT_THAT(s.problems[3].message, HasSubstr("not found"));
  ASSERT_EQ(s.computes.size(), 1u);
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, IsEmpty());
}

TEST(DesiredState, NodeMovedBetweenScaleSets) {
  World before;
  before.node("node-1", vmss_instance("pool1", 0))
      .node("node-2", vmss_instance("pool2", 0))
      .pod({})
      .bound_identity("app", "id-a");
  auto s1 = before.desired();
  ASSERT_EQ(s1.assignments.size(), 1u);
  EXPECT_EQ(s1.assignments[0].compute_key, vmss_key("pool1"));
  EXPECT_THAT(s1.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("id-a")));
  EXPECT_THAT(s1.computes.at(vmss_key("pool2")).identity_ids, IsEmpty());

  World after;  // node-1 re-registered in pool2; node-3 keeps pool1 in the cluster
  after.node("node-1", vmss_instance("pool2", 7))
      .node("node-3", vmss_instance("pool1", 1))
      .pod({})
      .bound_identity("app", "id-a");
  auto s2 = after.desired();
  ASSERT_EQ(s2.assignments.size(), 1u);
  EXPECT_EQ(s2.assignments[0].compute_key, vmss_key("pool2"));
  EXPECT_THAT(s2.computes.at(vmss_key("pool1")).identity_ids, IsEmpty());  // so pool1 loses what podid added
  EXPECT_THAT(s2.computes.at(vmss_key("pool1")).nodes, ElementsAre("node-3"));
  EXPECT_THAT(s2.computes.at(vmss_key("pool2")).identity_ids, ElementsAre(resource_id("id-a")));

  World emptied;  // no node left on pool1: no entry at all (the caller goes by its ledger)
  emptied.node("node-1", vmss_instance("pool2", 7)).pod({}).bound_identity("app", "id-a");
  EXPECT_FALSE(emptied.desired().computes.contains(vmss_key("pool1")));
}

TEST(DesiredState, IdentityIdsDeduplicatedIgnoringCaseFirstSpellingKeptSortedByKey) {
  const std::string upper =
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-IDS/providers/"
      "Microsoft.ManagedIdentity/userAssignedIdentities/Shared";
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .node("node-2", vmss_instance("pool1", 1))
      .pod({.name = "a", .selector = "one"})
      .pod({.name = "b", .selector = "two", .node = "node-2"})
      .pod({.name = "c", .selector = "three"})
      // Two AzureIdentities for one UAMI, spelled differently.
      .identity({.ns = "app", .name = "id-1", .client_id = kCidA, .resource_id = upper})
      .binding({.ns = "app", .name = "b1", .identity = "id-1", .selector = "one"})
      .identity({.ns = "app", .name = "id-2", .client_id = kCidA, .resource_id = resource_id("shared")})
      .binding({.ns = "app", .name = "b2", .identity = "id-2", .selector = "two"})
      .identity({.ns = "app", .name = "id-3", .client_id = kCidB, .resource_id = resource_id("AAA")})
      .binding({.ns = "app", .name = "b3", .identity = "id-3", .selector = "three"});
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 3u);
  // "a-app-id-1" comes first in assignment order, so its spelling wins; "aaa" sorts before "shared".
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("AAA"), upper));
}

TEST(DesiredState, NameConflictKeepsTheFirstAndReportsTheOther) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.ns = "team-y", .name = "id", .client_id = kCidB, .resource_id = resource_id("y")})
      .binding({.ns = "team-y", .name = "b", .identity = "id"})
      .identity({.ns = "team-x", .name = "id", .client_id = kCidA, .resource_id = resource_id("x")})
      .binding({.ns = "team-x", .name = "b", .identity = "id"});
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  EXPECT_EQ(s.assignments[0].name, "web-0-app-id");
  EXPECT_EQ(s.assignments[0].identity->object.ns, "team-x");  // bindings in (namespace, name) order
  EXPECT_THAT(reasons(s), ElementsAre("NameConflict AzureIdentity team-y/id"));
  EXPECT_THAT(s.problems[0].message, HasSubstr("team-x/id"));
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("x")));
}

TEST(DesiredState, NameConflictBetweenDifferentPods) {
  // "a-b" in namespace "c" and "a" in namespace "b-c" both give "a-b-c-id".
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.ns = "c", .name = "a-b"})
      .pod({.ns = "b-c", .name = "a"})
      .bound_identity("shared", "id");
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  EXPECT_EQ(s.assignments[0].pod_namespace, "b-c");  // pods in (namespace, name) order
  EXPECT_THAT(reasons(s), ElementsAre("NameConflict AzureIdentity shared/id"));
  EXPECT_THAT(s.problems[0].message, HasSubstr("pod c/a-b"));
}

TEST(DesiredState, TwoBindingsToOneIdentityAreNoConflict) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.ns = "app", .name = "id-a", .client_id = kCidA, .resource_id = resource_id("a")})
      .binding({.ns = "app", .name = "z-binding", .identity = "id-a"})
      .binding({.ns = "app", .name = "a-binding", .identity = "id-a"});
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  EXPECT_EQ(s.assignments[0].binding->object.name, "a-binding");
  EXPECT_THAT(s.problems, IsEmpty());
}

TEST(DesiredState, OneSelectorSeveralIdentities) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0)).pod({}).bound_identity("app", "id-b").bound_identity("app", "id-a");
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("default/web-0-app-id-a", "default/web-0-app-id-b"));
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("id-a"), resource_id("id-b")));
}

TEST(DesiredState, PascalCasePreV16Objects) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity_raw({{"apiVersion", "aadpodidentity.k8s.io/v1"},
                     {"kind", "AzureIdentity"},
                     {"metadata", {{"namespace", "app"}, {"name", "old-id"}}},
                     {"spec", {{"Type", 0}, {"ClientID", kCidA}, {"ResourceID", resource_id("old")}}}})
      .binding_raw({{"apiVersion", "aadpodidentity.k8s.io/v1"},
                    {"kind", "AzureIdentityBinding"},
                    {"metadata", {{"namespace", "app"}, {"name", "old-binding"}}},
                    {"spec", {{"AzureIdentity", "old-id"}, {"Selector", "web"}}}});
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("default/web-0-app-old-id"));
  EXPECT_THAT(s.computes.at(vmss_key("pool1")).identity_ids, ElementsAre(resource_id("old")));
}

TEST(DesiredState, OverlongNameIsReportedNotAssigned) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.name = std::string(245, 'p')})
      .pod({.name = "short"})
      .bound_identity("app", "id-a");
  auto s = w.desired();
  EXPECT_THAT(names(s), ElementsAre("default/short-app-id-a"));
  EXPECT_THAT(reasons(s), ElementsAre("InvalidName AzureIdentity app/id-a"));
}

TEST(DesiredState, OutputDoesNotDependOnInputOrder) {
  auto build = [](bool reversed) {
    World w;
    std::vector<PodSpec> pods = {{.ns = "b", .name = "p1"}, {.ns = "a", .name = "p2"}, {.ns = "a", .name = "p1"}};
    if (reversed) std::reverse(pods.begin(), pods.end());
    w.node("node-1", vmss_instance("pool1", 0));
    for (const auto& p : pods) w.pod(p);
    if (reversed) {
      w.bound_identity("y", "id").bound_identity("x", "id");
    } else {
      w.bound_identity("x", "id").bound_identity("y", "id");
    }
    auto s = w.desired();
    std::vector<std::string> out = names(s);
    for (const auto& a : s.assignments) out.push_back(a.identity->object.ns);
    out.insert(out.end(), s.computes.at(vmss_key("pool1")).identity_ids.begin(),
               s.computes.at(vmss_key("pool1")).identity_ids.end());
    for (const auto& p : s.problems) out.push_back(p.message);
    return out;
  };
  auto forward = build(false);
  EXPECT_EQ(forward, build(true));
  EXPECT_THAT(std::vector<std::string>(forward.begin(), forward.begin() + 3),
              ElementsAre("default/p1-a-id", "default/p1-b-id", "default/p2-a-id"));
}

}  // namespace
}  // namespace podid::controller
