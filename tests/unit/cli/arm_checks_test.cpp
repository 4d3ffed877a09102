// SPDX-License-Identifier: Apache-2.0
// ARM-side findings from the plan and ARM's answers, and the bound on calls: one GET per distinct identity, one
// permissions call per distinct scope, however many pods and nodes.
#include <gtest/gtest.h>

#include "cli/arm_checks.h"
#include "cli/permissions.h"
#include "cli_fixtures.h"
#include "controller/arm/resource_id.h"

namespace podid::cli {
namespace {

using namespace testing;
using controller::arm::canonical_key;

constexpr const char* kPrincipal = "99999999-9999-4999-8999-999999999999";

ArmAnswer ok(json body) { return {200, std::move(body), "", "", ""}; }
ArmAnswer granted(std::vector<std::string> actions) {
  return ok({{"value", json::array({{{"actions", actions}, {"notActions", json::array()}}})}});
}
ArmAnswer identity_answer(const std::string& client_id) { return ok({{"properties", {{"clientId", client_id}}}}); }

struct Fixture {
  ClusterView view;
  ArmPlan plan;
  ArmFacts facts;
  explicit Fixture(const ListedObjects& l, DoctorPolicy policy = {}) : view(build_view(l, policy.podid_namespace)) {
    plan = plan_arm_checks(view, policy);
    facts.principal_id = kPrincipal;
    for (const auto& i : plan.identities) facts.identities[canonical_key(i.resource_id)] = identity_answer(i.client_id);
    for (const auto& s : plan.scopes) facts.permissions[canonical_key(s.scope)] = granted({"*"});
  }
  std::vector<Finding> findings() const { return arm_findings(plan, facts); }
};

TEST(ArmPlan, OneCallPerDistinctIdentityAndScope) {
  auto l = healthy();
  // 50 pods on 20 nodes of one scale set, 2 identities (one object twice): 2 GETs, 2 + 1 permissions calls.
  l.identities.push_back(identity_json({.name = "b-id", .client_id = kCidB, .resource_id = resource_id("b-id")}));
  l.identities.push_back(identity_json({.ns = "other", .name = "b-id", .client_id = kCidB,
                                        .resource_id = resource_id("B-ID")}));
  l.bindings.push_back(binding_json({.name = "b", .identity = "b-id", .selector = "web"}));
  for (int n = 2; n <= 20; ++n) l.nodes.push_back(node_json("node-" + std::to_string(n)));
  for (int p = 0; p < 50; ++p) {
    l.pods.push_back(pod_json("app", "w" + std::to_string(p), {{"aadpodidbinding", "web"}},
                              "node-" + std::to_string(1 + p % 20)));
  }
  Fixture f(l);
  EXPECT_EQ(f.plan.identity_ids().size(), 2u);
  ASSERT_EQ(f.plan.scopes.size(), 3u);
  const ScopeCheck& vmss = f.plan.scopes.back();
  EXPECT_EQ(vmss.kind, ScopeKind::kScaleSet);
  EXPECT_EQ(vmss.action, kWriteScaleSetAction);
  EXPECT_EQ(vmss.role_scope, "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MC_rg");
  EXPECT_EQ(vmss.needed_for, (std::vector<std::string>{"app/b-id", "app/web-id"}));
  EXPECT_TRUE(f.findings().empty());
}

TEST(ArmPlan, ManagedModeChecksIdentitiesButNoRoles) {
  DoctorPolicy managed;
  managed.selection.mode = agent::Mode::kManaged;
  Fixture f(healthy(), managed);
  EXPECT_EQ(f.plan.identity_ids().size(), 1u);
  EXPECT_TRUE(f.plan.scopes.empty());
}

TEST(ArmChecks, MissingManagedIdentityOperator) {
  Fixture f(healthy());
  f.facts.permissions[canonical_key(resource_id("web-id"))] = granted({"Microsoft.ManagedIdentity/userAssignedIdentities/*/read"});
  auto findings = f.findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].code, "MissingAssignPermission");
  EXPECT_EQ(findings[0].object, "AzureIdentity app/web-id");
  EXPECT_EQ(findings[0].fix, std::string("az role assignment create --assignee-object-id ") + kPrincipal +
                                 " --assignee-principal-type ServicePrincipal --role 'Managed Identity Operator' --scope " +
                                 resource_id("web-id"));
}

TEST(ArmChecks, MissingVirtualMachineContributor) {
  Fixture f(healthy());
  f.facts.permissions[canonical_key(kVmss)] = granted({"Microsoft.Compute/*/read"});
  auto findings = f.findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].code, "MissingComputeWritePermission");
  EXPECT_EQ(findings[0].object, std::string("ScaleSet ") + kVmss);
  EXPECT_NE(findings[0].fix.find("--role 'Virtual Machine Contributor' --scope /subscriptions/"
                                 "00000000-0000-0000-0000-000000000001/resourceGroups/MC_rg"),
            std::string::npos);
}

TEST(ArmChecks, WrongClientId) {
  Fixture f(healthy());
  f.facts.identities[canonical_key(resource_id("web-id"))] = identity_answer(kCidX);
  auto findings = f.findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].code, "ClientIdMismatch");
  EXPECT_EQ(findings[0].fix, std::string("kubectl patch azureidentity web-id -n app --type merge -p "
                                         "'{\"spec\":{\"clientID\":\"") + kCidX + "\"}}'");
  // Client ids compare ignoring case, as Azure compares them.
  std::string upper = kCidA;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  f.facts.identities[canonical_key(resource_id("web-id"))] = identity_answer(upper);
  EXPECT_TRUE(f.findings().empty());
}

TEST(ArmChecks, IdentityNotFoundReadDeniedAndNoAnswer) {
  Fixture f(healthy());
  const auto id = canonical_key(resource_id("web-id"));
  f.facts.identities[id] = {404, json::object(), "ResourceNotFound", "gone", ""};
  EXPECT_EQ(f.findings().at(0).code, "IdentityNotFoundInAzure");
  EXPECT_NE(f.findings().at(0).fix.find("az identity create --resource-group rg-ids --name web-id"), std::string::npos);
  f.facts.identities[id] = {403, json::object(), "AuthorizationFailed", "no", ""};
  EXPECT_EQ(f.findings().at(0).code, "ArmReadDenied");
  f.facts.identities[id] = {0, nullptr, "", "", "connect: connection refused"};
  EXPECT_EQ(f.findings().at(0).code, "ArmCheckFailed");
  EXPECT_NE(f.findings().at(0).cause.find("connection refused"), std::string::npos);
  f.facts.identities[id] = identity_answer(kCidA);
  f.facts.permissions[canonical_key(kVmss)] = ok({{"unexpected", true}});
  EXPECT_EQ(f.findings().at(0).code, "ArmCheckFailed");
}

}  // namespace
}  // namespace podid::cli
