// SPDX-License-Identifier: Apache-2.0
#include "controller/state/assignment_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::shared_ptr<const AssignedRecord> existing(const json& raw) { return existing_record(raw); }

// An AAI as the API server returns it after podid created it: server-set metadata added.
json as_stored(json o, const std::string& rv = "100") {
  o["metadata"]["resourceVersion"] = rv;
  o["metadata"]["uid"] = "aai-uid-1";
  o["metadata"]["creationTimestamp"] = "2024-05-01T10:00:00Z";
  o["metadata"]["managedFields"] = json::array({{{"manager", "podid-controller"}}});
  return o;
}

std::vector<std::string> keys(const std::vector<PlanItem>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.ns + "/" + i.name);
  return out;
}

// One pod on pool1 bound to id-a, with server-side metadata on identity and binding.
World one_assignment() {
  World w;
  json id = identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a"), .rv = "7"});
  id["metadata"]["uid"] = "identity-uid";
  id["metadata"]["generation"] = 3;
  id["metadata"]["creationTimestamp"] = "2024-04-01T00:00:00Z";
  id["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  id["metadata"]["labels"] = {{"team", "a"}};
  id["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{\"huge\":true}"},
                                   {"note", "kept"}};
  id["status"] = {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  json b = binding_json({.name = "b", .identity = "id-a", .rv = "8"});
  b["metadata"]["uid"] = "binding-uid";
  b.erase("apiVersion");  // items of a list response carry no apiVersion/kind
  b.erase("kind");
  w.node("node-1", vmss_instance("pool1", 0))
      .node("node-2", vmss_instance("pool1", 1))
      .pod({})
      .identity_raw(id)
      .binding_raw(b);
  return w;
}

TEST(BuildAssignedIdentity, Shape) {
  World w = one_assignment();
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  json o = build_assigned_identity(s.assignments[0], kStateCreated);
  json want = {{"apiVersion", "aadpodidentity.k8s.io/v1"},
               {"kind", "AzureAssignedIdentity"},
               {"metadata",
                {{"name", "web-0-app-id-a"},
                 {"namespace", "default"},
                 {"labels", {{"nodename", "node-1"}, {"podid.io/pod-uid", "uid-app-web-0"}}},  // the pod, by uid
                 {"annotations", {{"podid.io/compute", vmss_key("pool1")}}},
                 {"finalizers", {"azureassignedidentity.finalizers.aadpodidentity.k8s.io"}}}},
               {"spec",
                {{"azureIdentityRef",
                  {{"apiVersion", "aadpodidentity.k8s.io/v1"},
                   {"kind", "AzureIdentity"},
                   {"metadata",
                    {{"name", "id-a"},
                     {"namespace", "app"},
                     {"uid", "identity-uid"},
                     {"labels", {{"team", "a"}}},
                     {"annotations", {{"note", "kept"}}}}},
                   {"spec", {{"type", 0}, {"clientID", kCidA}, {"resourceID", resource_id("a")}}}}},
                 {"azureBindingRef",
                  {{"apiVersion", "aadpodidentity.k8s.io/v1"},
                   {"kind", "AzureIdentityBinding"},
                   {"metadata", {{"name", "b"}, {"namespace", "app"}, {"uid", "binding-uid"}}},
                   {"spec", {{"azureIdentity", "id-a"}, {"selector", "web"}, {"weight", 10}}}}},
                 {"pod", "web-0"},
                 {"podNamespace", "app"},
                 {"nodename", "node-1"}}},
               {"status", {{"status", "Created"}, {"availableReplicas", 1}}}};
  EXPECT_EQ(o, want) << o.dump(2);
}

TEST(BuildAssignedIdentity, ParsesAsTheAgentReadsIt) {
  World w = one_assignment();
  auto s = w.desired();
  auto parsed = crd::parse_azure_assigned_identity(build_assigned_identity(s.assignments[0], kStateAssigned));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->ns, "default");
  EXPECT_EQ(parsed->name, "web-0-app-id-a");
  EXPECT_EQ(parsed->pod, "web-0");
  EXPECT_EQ(parsed->pod_namespace, "app");
  EXPECT_EQ(parsed->node, "node-1");
  EXPECT_EQ(parsed->identity_ns, "app");
  EXPECT_EQ(parsed->identity_name, "id-a");
  EXPECT_EQ(parsed->identity_client_id, kCidA);
  EXPECT_EQ(parsed->identity_resource_id, resource_id("a"));
  EXPECT_EQ(parsed->binding_name, "b");
  EXPECT_EQ(parsed->state, crd::AssignedState::kAssigned);
}

TEST(BuildAssignedIdentity, PascalCaseIdentityParses) {
  World w;
  w.node("node-1", vm("vm-1"))
      .pod({})
      .identity_raw({{"metadata", {{"namespace", "app"}, {"name", "old"}}},
                     {"spec", {{"ClientID", kCidB}, {"ResourceID", resource_id("old")}}}})
      .binding({.name = "b", .identity = "old"});
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  json o = build_assigned_identity(s.assignments[0], kStateCreated);
  EXPECT_EQ(o["spec"]["azureIdentityRef"]["kind"], "AzureIdentity");
  auto parsed = crd::parse_azure_assigned_identity(o);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->identity_client_id, kCidB);
  EXPECT_EQ(parsed->identity_resource_id, resource_id("old"));
  EXPECT_EQ(parsed->state, crd::AssignedState::kCreated);
}

TEST(PlanAssignments, CreateWhenAbsent) {
  World w = one_assignment();
  auto s = w.desired();
  auto plan = plan_assignments(s, {});
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_THAT(plan.update, IsEmpty());
  EXPECT_THAT(plan.keep, IsEmpty());
  EXPECT_THAT(plan.remove, IsEmpty());
  const PlanItem& c = plan.create[0];
  EXPECT_EQ(c.ns, "default");
  EXPECT_EQ(c.name, "web-0-app-id-a");
  EXPECT_EQ(c.compute_key, vmss_key("pool1"));
  EXPECT_EQ(c.identity_resource_id, resource_id("a"));
  EXPECT_EQ(c.state, crd::AssignedState::kCreated);
  EXPECT_EQ(c.desired, &s.assignments[0]);
  EXPECT_EQ(c.existing, nullptr);  // the object is built when written, not held by the plan
  ASSERT_NE(c.desired, nullptr);
  EXPECT_EQ(c.desired, &s.assignments[0]);
}

TEST(PlanAssignments, KeepWhenEqual) {
  World w = one_assignment();
  auto s = w.desired();
  json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  auto plan = plan_assignments(s, {existing(stored)});
  EXPECT_THAT(plan.create, IsEmpty());
  EXPECT_THAT(plan.update, IsEmpty());
  EXPECT_THAT(plan.remove, IsEmpty());
  ASSERT_EQ(plan.keep.size(), 1u);
  EXPECT_EQ(plan.keep[0].state, crd::AssignedState::kAssigned);
  EXPECT_EQ(plan.keep[0].compute_key, vmss_key("pool1"));
  ASSERT_TRUE(plan.keep[0].existing);  // the cache's record, shared, not copied
  EXPECT_EQ(plan.keep[0].existing->name, "web-0-app-id-a");
  EXPECT_EQ(plan.keep[0].existing->resource_version, "100");
}

TEST(PlanAssignments, IdentityWhoseOnlyChangeIsStatusIsKept) {
  World w1 = one_assignment();
  auto s1 = w1.desired();
  json stored = as_stored(build_assigned_identity(s1.assignments[0], kStateAssigned));

  // The controller wrote a condition into the identity's status: new resourceVersion, managedFields, status.
  World w2 = one_assignment();
  json id = *w2.snapshot.identities[0]->raw;
  id["metadata"]["resourceVersion"] = "9";
  id["metadata"]["managedFields"].push_back({{"manager", "podid-controller"}});
  id["status"]["conditions"][0]["status"] = "False";
  w2.snapshot.identities[0] = cached<crd::AzureIdentity>(id, crd::parse_azure_identity);
  json b = *w2.snapshot.bindings[0]->raw;
  b["metadata"]["resourceVersion"] = "11";
  b["status"] = {{"availableReplicas", 0}};
  w2.snapshot.bindings[0] = cached<crd::AzureIdentityBinding>(b, crd::parse_azure_identity_binding);
  auto s2 = w2.desired();
  auto plan = plan_assignments(s2, {existing(stored)});
  EXPECT_EQ(keys(plan.keep), std::vector<std::string>{"default/web-0-app-id-a"});
  EXPECT_THAT(plan.update, IsEmpty());
}

TEST(PlanAssignments, SpellingAndPrunedFieldsOfTheCopyDoNotCount) {
  World w = one_assignment();
  auto s = w.desired();
  json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  // The predecessor's copies: full metadata, the vestigial spec.metadata, replicas, other key spellings.
  json& ref = stored["spec"]["azureIdentityRef"];
  ref["metadata"]["resourceVersion"] = "1";
  ref["spec"] = {{"metadata", json::object()},
                 {"replicas", nullptr},
                 {"ClientID", kCidA},
                 {"type", 0},
                 {"resourceID", resource_id("a")}};
  stored["spec"]["azureBindingRef"]["spec"].erase("weight");
  auto plan = plan_assignments(s, {existing(stored)});
  EXPECT_EQ(plan.keep.size(), 1u);
  EXPECT_THAT(plan.update, IsEmpty());
}

struct UpdateCase {
  const char* name;
  void (*mutate)(json& stored);
  bool reset_to_created;
};

TEST(PlanAssignments, UpdateWhenWhatTheAaiStatesDiffers) {
  const UpdateCase cases[] = {
      {"identity clientID", [](json& o) { o["spec"]["azureIdentityRef"]["spec"]["clientID"] = kCidB; }, false},
      {"identity resourceID",
       [](json& o) { o["spec"]["azureIdentityRef"]["spec"]["resourceID"] = resource_id("other"); }, true},
      {"identity type",
       [](json& o) {
         o["spec"]["azureIdentityRef"]["spec"] = {
             {"type", 1}, {"clientID", kCidA}, {"tenantID", "t"}, {"clientPassword", {{"name", "s"}}}};
       },
       true},
      {"identity recreated (uid)", [](json& o) { o["spec"]["azureIdentityRef"]["metadata"]["uid"] = "old"; }, false},
      {"identity namespace (name conflict winner changed)",
       [](json& o) { o["spec"]["azureIdentityRef"]["metadata"]["namespace"] = "team-x"; }, false},
      {"identity behavior annotation",
       [](json& o) {
         o["spec"]["azureIdentityRef"]["metadata"]["annotations"]["aadpodidentity.k8s.io/Behavior"] = "namespaced";
       },
       false},
      {"binding selector", [](json& o) { o["spec"]["azureBindingRef"]["spec"]["selector"] = "old"; }, false},
      {"binding name", [](json& o) { o["spec"]["azureBindingRef"]["metadata"]["name"] = "b-old"; }, false},
      {"binding unparseable", [](json& o) { o["spec"]["azureBindingRef"]["spec"].erase("selector"); }, false},
      {"identity copy without uid", [](json& o) { o["spec"]["azureIdentityRef"]["metadata"].erase("uid"); }, false},
      {"nodename within the scale set",
       [](json& o) {
         o["spec"]["nodename"] = "node-2";
         o["metadata"]["labels"]["nodename"] = "node-2";
       },
       false},
      {"nodename label removed", [](json& o) { o["metadata"]["labels"].erase("nodename"); }, false},
      {"compute annotation", [](json& o) { o["metadata"]["annotations"]["podid.io/compute"] = vmss_key("pool0"); },
       true},
      {"predecessor's AAI: no compute annotation, same node", [](json& o) { o["metadata"].erase("annotations"); },
       false},
      {"predecessor's AAI: no compute annotation, other node",
       [](json& o) {
         o["metadata"].erase("annotations");
         o["spec"]["nodename"] = "node-9";
       },
       true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World w = one_assignment();
    auto s = w.desired();
    json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
    stored["metadata"]["labels"]["user-label"] = "kept";
    c.mutate(stored);
    auto plan = plan_assignments(s, {existing(stored)});
    ASSERT_EQ(plan.update.size(), 1u);
    EXPECT_THAT(plan.keep, IsEmpty());
    EXPECT_THAT(plan.create, IsEmpty());
    EXPECT_THAT(plan.remove, IsEmpty());
    const PlanItem& u = plan.update[0];
    EXPECT_EQ(u.desired, &s.assignments[0]);
    EXPECT_EQ(u.reset_state, c.reset_to_created);
    const json object = updated_object(stored, *u.desired, u.reset_state);
    EXPECT_EQ(u.compute_key, vmss_key("pool1"));
    json want = build_assigned_identity(s.assignments[0], c.reset_to_created ? kStateCreated : kStateAssigned);
    EXPECT_EQ(u.state, c.reset_to_created ? crd::AssignedState::kCreated : crd::AssignedState::kAssigned);
    EXPECT_EQ(object["spec"], want["spec"]);
    EXPECT_EQ(object["status"], want["status"]);
    // Server metadata kept; podid's label and annotation set, others kept.
    EXPECT_EQ(object["metadata"]["resourceVersion"], "100");
    EXPECT_EQ(object["metadata"]["uid"], "aai-uid-1");
    EXPECT_EQ(object["metadata"]["labels"]["nodename"], "node-1");
    EXPECT_EQ(object["metadata"]["labels"]["user-label"], "kept");
    EXPECT_EQ(object["metadata"]["annotations"]["podid.io/compute"], vmss_key("pool1"));
    EXPECT_EQ(object["metadata"]["finalizers"], want["metadata"]["finalizers"]);
    EXPECT_TRUE(crd::parse_azure_assigned_identity(object).ok());
  }
}

TEST(PlanAssignments, UpdateAddsTheFinalizerAndKeepsOthersAndLegacyStatus) {
  World w = one_assignment();
  auto s = w.desired();
  json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  stored["metadata"]["finalizers"] = json::array({"example.com/other"});  // pre-1.6.1 AAIs had none of ours
  stored.erase("status");                                                 // pre-1.5: no status at all
  stored["spec"]["azureBindingRef"]["spec"]["selector"] = "old";
  auto plan = plan_assignments(s, {existing(stored)});
  ASSERT_EQ(plan.update.size(), 1u);
  const json o = updated_object(stored, *plan.update[0].desired, plan.update[0].reset_state);
  EXPECT_EQ(o["metadata"]["finalizers"],
            json::array({"example.com/other", "azureassignedidentity.finalizers.aadpodidentity.k8s.io"}));
  EXPECT_FALSE(o.contains("status"));
  EXPECT_EQ(plan.update[0].state, crd::AssignedState::kNone);
}

TEST(PlanAssignments, RemoveWhatIsNotDesiredWhoeverWroteIt) {
  World w = one_assignment();
  auto s = w.desired();
  // Written by podid for a pod that is gone: its compute comes from the annotation.
  json mine = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  mine["metadata"]["name"] = "gone-app-id-a";
  mine["spec"]["pod"] = "gone";
  mine["metadata"]["annotations"]["podid.io/compute"] = vmss_key("pool0");
  // Written by the predecessor: no annotation; its node is on pool1 ...
  json theirs = assigned_json({.pod = "old", .identity = "id-a", .client_id = kCidA, .node = "node-2"});
  theirs["spec"]["azureIdentityRef"]["spec"]["resourceID"] = resource_id("a");
  // ... and one whose node is gone, for a service principal.
  json sp = assigned_json({.pod = "older", .identity = "sp", .client_id = kCidB, .node = "node-gone"});
  sp["spec"]["azureIdentityRef"]["spec"] = {
      {"type", 1}, {"clientID", kCidB}, {"tenantID", "t"}, {"clientPassword", {{"name", "s"}}}};
  auto plan = plan_assignments(s, {existing(sp), existing(theirs), existing(mine)});
  EXPECT_EQ(keys(plan.create), std::vector<std::string>{"default/web-0-app-id-a"});
  ASSERT_THAT(keys(plan.remove), ElementsAre("default/gone-app-id-a", "default/old-app-id-a", "default/older-app-sp"));
  EXPECT_EQ(plan.remove[0].compute_key, vmss_key("pool0"));
  EXPECT_EQ(plan.remove[0].identity_resource_id, resource_id("a"));
  EXPECT_EQ(plan.remove[0].state, crd::AssignedState::kAssigned);
  EXPECT_EQ(plan.remove[0].desired, nullptr);
  ASSERT_TRUE(plan.remove[0].existing);
  EXPECT_EQ(plan.remove[0].existing->name, "gone-app-id-a");
  EXPECT_EQ(plan.remove[1].compute_key, vmss_key("pool1"));
  EXPECT_EQ(plan.remove[1].identity_resource_id, resource_id("a"));
  EXPECT_EQ(plan.remove[2].compute_key, "");
  EXPECT_EQ(plan.remove[2].identity_resource_id, "");
}

TEST(PlanAssignments, UnparseableEmbeddedIdentityKeepsTheResourceIdItNames) {
  World w;
  auto s = w.desired();
  json theirs = assigned_json({.pod = "old", .identity = "id-a", .client_id = "", .node = "node-1"});
  theirs["spec"]["azureIdentityRef"]["spec"]["resourceID"] = resource_id("a");  // type 0 without clientID
  auto plan = plan_assignments(s, {existing(theirs)});
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0].identity_resource_id, resource_id("a"));
}

TEST(PlanAssignments, BeingDeletedIsRemovedNeverKeptNorRecreated) {
  World w = one_assignment();
  auto s = w.desired();
  json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  stored["metadata"]["deletionTimestamp"] = "2024-05-01T11:00:00Z";
  auto plan = plan_assignments(s, {existing(stored)});
  EXPECT_THAT(plan.keep, IsEmpty());
  EXPECT_THAT(plan.update, IsEmpty());
  EXPECT_THAT(plan.create, IsEmpty());
  ASSERT_EQ(keys(plan.remove), std::vector<std::string>{"default/web-0-app-id-a"});
  EXPECT_EQ(plan.remove[0].compute_key, vmss_key("pool1"));

  // Once it is gone from the cache, it is created again.
  auto later = plan_assignments(s, {});
  EXPECT_EQ(keys(later.create), std::vector<std::string>{"default/web-0-app-id-a"});
}

TEST(PlanAssignments, SameNameInAnotherNamespaceIsAnotherObject) {
  World w = one_assignment();
  w.snapshot.force_namespaced = true;
  auto s = w.desired();
  ASSERT_EQ(s.assignments.size(), 1u);
  ASSERT_EQ(s.assignments[0].ns, "app");
  World flat = one_assignment();
  auto s_flat = flat.desired();
  json old = as_stored(build_assigned_identity(s_flat.assignments[0], kStateAssigned));  // in "default"
  auto plan = plan_assignments(s, {existing(old)});
  EXPECT_EQ(keys(plan.create), std::vector<std::string>{"app/web-0-app-id-a"});
  EXPECT_EQ(keys(plan.remove), std::vector<std::string>{"default/web-0-app-id-a"});
}

TEST(PlanAssignments, ServicePrincipalItemsNameNoResourceId) {
  World w;
  json sp = identity_json({.name = "sp", .client_id = kCidB, .resource_id = resource_id("ignored"), .type = 1});
  sp["spec"]["tenantID"] = "tenant";
  sp["spec"]["clientPassword"] = {{"name", "secret"}};
  w.node("node-1", vmss_instance("pool1", 0)).pod({}).identity_raw(sp).binding({.name = "b", .identity = "sp"});
  auto s = w.desired();
  auto plan = plan_assignments(s, {});
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].identity_resource_id, "");
}

TEST(PlanAssignments, FederatedItemsNameNoResourceIdSoTheyAreAssignedAtOnce) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({})
      .identity({.name = "fed", .client_id = kCidB, .resource_id = resource_id("fed"), .federated = "true"})
      .binding({.name = "b", .identity = "fed"});
  auto s = w.desired();
  auto plan = plan_assignments(s, {});
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].identity_resource_id, "");
  // As the controller stored it: the embedded copy keeps the annotation, so a re-read AAI still names nothing.
  json stored = as_stored(build_assigned_identity(s.assignments[0], kStateAssigned));
  auto again = plan_assignments(s, {existing(stored)});
  ASSERT_EQ(again.keep.size(), 1u) << "create " << again.create.size() << " update " << again.update.size();
  EXPECT_EQ(again.keep[0].identity_resource_id, "");
}

TEST(PlanAssignments, ListsAreSorted) {
  World w;
  w.node("node-1", vmss_instance("pool1", 0))
      .pod({.name = "c"})
      .pod({.name = "a"})
      .pod({.name = "b"})
      .bound_identity("app", "id");
  auto s = w.desired();
  json b = as_stored(build_assigned_identity(s.assignments[1], kStateAssigned));
  json z = assigned_json({.pod = "z", .identity = "id"});
  json y = assigned_json({.pod = "y", .identity = "id"});
  auto plan = plan_assignments(s, {existing(z), existing(b), existing(y)});
  EXPECT_THAT(keys(plan.create), ElementsAre("default/a-app-id", "default/c-app-id"));
  EXPECT_THAT(keys(plan.keep), ElementsAre("default/b-app-id"));
  EXPECT_THAT(keys(plan.remove), ElementsAre("default/y-app-id", "default/z-app-id"));
}

}  // namespace
}  // namespace podid::controller
