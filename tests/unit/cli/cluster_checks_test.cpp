// SPDX-License-Identifier: Apache-2.0
// One test per cluster-side finding of `podid doctor`: the mistake set up in the objects, the finding (severity,
// object, cause, fix) checked, and the healthy cluster finding nothing.
#include <gtest/gtest.h>

#include "cli/cluster_checks.h"
#include "cli_fixtures.h"

namespace podid::cli {
namespace {

using namespace testing;

std::vector<Finding> run(const ListedObjects& listed, const DoctorPolicy& policy = {}) {
  return cluster_findings(build_view(listed, policy.podid_namespace), policy);
}

std::vector<Finding> with_code(const std::vector<Finding>& findings, const std::string& code) {
  std::vector<Finding> out;
  for (const auto& f : findings) {
    if (f.code == code) out.push_back(f);
  }
  return out;
}

TEST(ClusterChecks, HealthyClusterHasNoFinding) {
  auto findings = run(healthy());
  EXPECT_TRUE(findings.empty()) << findings.front().code << ": " << findings.front().cause;
  EXPECT_EQ(exit_status(findings), 0);
}

TEST(ClusterChecks, InvalidObject) {
  auto l = healthy();
  l.identities.push_back(identity_json({.name = "broken", .client_id = ""}));
  auto f = with_code(run(l), "InvalidObject");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].object, "AzureIdentity app/broken");
  EXPECT_NE(f[0].cause.find("spec.clientID"), std::string::npos) << f[0].cause;
  EXPECT_EQ(f[0].fix, "kubectl edit azureidentity broken -n app");
}

TEST(ClusterChecks, BindingNamingAMissingIdentity) {
  auto l = healthy();
  l.bindings.push_back(binding_json({.name = "ghost", .identity = "nobody", .selector = "web"}));
  auto f = with_code(run(l), "BindingIdentityMissing");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_EQ(f[0].object, "AzureIdentityBinding app/ghost");
  EXPECT_NE(f[0].fix.find("kind: AzureIdentity\nmetadata:\n  name: \"nobody\"\n  namespace: \"app\""),
            std::string::npos)
      << f[0].fix;
}

TEST(ClusterChecks, BindingNamingAnIdentityInAnotherCase) {
  auto l = healthy();
  l.bindings.push_back(binding_json({.name = "typo", .identity = "Web-ID", .selector = "web"}));
  auto f = with_code(run(l), "BindingIdentityMissing");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].fix,
            "kubectl patch azureidentitybinding typo -n app --type merge -p '{\"spec\":{\"azureIdentity\":\"web-id\"}}'");
}

TEST(ClusterChecks, BindingWhoseIdentityIsInAnotherNamespace) {
  auto l = healthy();
  l.bindings.push_back(binding_json({.ns = "shop", .name = "web-binding", .identity = "web-id", .selector = "web"}));
  auto f = with_code(run(l), "BindingIdentityInOtherNamespace");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].object, "AzureIdentityBinding shop/web-binding");
  EXPECT_NE(f[0].cause.find("is in namespace app, not shop"), std::string::npos) << f[0].cause;
  EXPECT_NE(f[0].fix.find("  namespace: \"app\""), std::string::npos);
  EXPECT_NE(f[0].fix.find("kubectl delete azureidentitybinding web-binding -n shop"), std::string::npos);
}

TEST(ClusterChecks, SelectorInAnotherCase) {
  auto l = healthy();
  l.bindings[0]["spec"]["selector"] = "Web";
  auto f = with_code(run(l), "SelectorCaseMismatch");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_NE(f[0].cause.find("app/web"), std::string::npos);
  EXPECT_EQ(f[0].fix, "kubectl patch azureidentitybinding web-binding -n app --type merge -p '{\"spec\":{\"selector\":\"web\"}}'");
}

TEST(ClusterChecks, LabelKeyInAnotherCase) {
  auto l = healthy();
  l.pods[0] = pod_json("app", "web", {{"aadPodIdBinding", "web"}});
  auto f = with_code(run(l), "LabelKeyMismatch");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].fix, "kubectl label pod web -n app aadpodidbinding=web");
}

TEST(ClusterChecks, SelectorMatchingNoPodIsInformation) {
  auto l = healthy();
  l.pods[0] = pod_json("app", "web", {{"aadpodidbinding", "web"}}, "node-1", "Succeeded");  // finished pods count not
  l.assigned.clear();
  auto findings = run(l);
  auto f = with_code(findings, "SelectorMatchesNoPod");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kInfo);
  EXPECT_EQ(exit_status(findings), 0);
}

TEST(ClusterChecks, NamespacedIdentitySkipsPodsOfOtherNamespaces) {
  auto l = healthy();
  l.identities[0] = identity_json(
      {.name = "web-id", .client_id = kCidA, .resource_id = resource_id("web-id"), .behavior = "namespaced"});
  l.pods.push_back(pod_json("shop", "web-a", {{"aadpodidbinding", "web"}}));
  l.pods.push_back(pod_json("shop", "web-b", {{"aadpodidbinding", "web"}}));
  auto f = with_code(run(l), "NamespacedBindingSkipsPod");
  ASSERT_EQ(f.size(), 1u);  // one per (binding, namespace), not per pod
  EXPECT_NE(f[0].cause.find("2 pods in namespace shop (web-a, web-b)"), std::string::npos) << f[0].cause;
  EXPECT_NE(f[0].cause.find("Behavior: namespaced"), std::string::npos);
  EXPECT_NE(f[0].fix.find("  namespace: \"shop\""), std::string::npos);
  // Without the annotation, the default mode lets them use it: no finding.
  l.identities[0] = identity_json({.name = "web-id", .client_id = kCidA, .resource_id = resource_id("web-id")});
  EXPECT_TRUE(with_code(run(l), "NamespacedBindingSkipsPod").empty());
  DoctorPolicy forced;
  forced.selection.force_namespaced = true;
  EXPECT_EQ(with_code(run(l, forced), "NamespacedBindingSkipsPod").size(), 1u);
}

TEST(ClusterChecks, CompetingBindings) {
  auto l = healthy();
  l.identities.push_back(identity_json({.name = "a-id", .client_id = kCidB, .resource_id = resource_id("a-id")}));
  l.bindings.push_back(binding_json({.name = "a-binding", .identity = "a-id", .selector = "web"}));
  l.pods.push_back(pod_json("app", "web-2", {{"aadpodidbinding", "web"}}));
  auto f = with_code(run(l), "CompetingBindings");
  ASSERT_EQ(f.size(), 1u);  // one per (namespace, label value)
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_NE(f[0].cause.find("gets app/a-id (the first by namespace/name)"), std::string::npos) << f[0].cause;
}

TEST(ClusterChecks, AssignmentNotAssignedCarriesTheControllersReason) {
  auto l = healthy();
  l.assigned[0]["status"]["status"] = "Created";
  auto plain = with_code(run(l), "AssignmentNotAssigned");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].severity, Severity::kWarning);  // nothing says why: maybe in progress
  l.identities[0]["status"]["conditions"] = json::array(
      {{{"type", "Assigned"}, {"status", "False"}, {"reason", "LinkedAuthorizationFailed"},
        {"message", "no assign/action on the identity\naz role assignment create --assignee 1 --role x --scope y"}}});
  auto f = with_code(run(l), "AssignmentNotAssigned");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_EQ(f[0].object, "AzureAssignedIdentity default/web-app-web-id");
  EXPECT_NE(f[0].cause.find("is Created"), std::string::npos);
  EXPECT_NE(f[0].cause.find("LinkedAuthorizationFailed"), std::string::npos);
  EXPECT_EQ(f[0].fix, "az role assignment create --assignee 1 --role x --scope y");
}

TEST(ClusterChecks, AssignmentMissingInStandardModeOnly) {
  auto l = healthy();
  l.assigned.clear();
  auto f = with_code(run(l), "AssignmentMissing");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].object, "Pod app/web");
  DoctorPolicy managed;
  managed.selection.mode = agent::Mode::kManaged;
  EXPECT_TRUE(with_code(run(l, managed), "AssignmentMissing").empty());
}

TEST(ClusterChecks, NodeWithoutAgentAndAgentNotReady) {
  auto l = healthy();
  l.nodes.push_back(node_json("node-2"));
  l.nodes.push_back(node_json("node-3"));
  l.pods.push_back(agent_json("node-3", /*ready=*/false));
  auto findings = run(l);
  auto missing = with_code(findings, "NodeWithoutAgent");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].object, "Node node-2");
  auto not_ready = with_code(findings, "AgentNotReady");
  ASSERT_EQ(not_ready.size(), 1u);
  EXPECT_EQ(not_ready[0].fix, "kubectl -n podid-system logs podid-agent-node-3");
}

TEST(ClusterChecks, NoAgentAnywhereIsOneFindingNamingTheNamespace) {
  auto l = healthy();
  l.pods.pop_back();
  l.nodes.push_back(node_json("node-2"));
  auto findings = run(l);
  EXPECT_EQ(with_code(findings, "AgentNotInstalled").size(), 1u);
  EXPECT_TRUE(with_code(findings, "NodeWithoutAgent").empty());
  DoctorPolicy elsewhere;
  elsewhere.podid_namespace = "kube-system";  // agents elsewhere are not podid's
  EXPECT_EQ(with_code(run(healthy(), elsewhere), "AgentNotInstalled").size(), 1u);
}

TEST(ClusterChecks, ControllerProblemsFoundBeforeItRuns) {
  auto l = healthy();
  l.nodes[0] = node_json("node-1", "kind://docker/node-1");
  l.identities.push_back(identity_json({.ns = "other", .name = "web-id", .client_id = kCidB,
                                        .resource_id = resource_id("web-id2")}));
  l.bindings.push_back(binding_json({.ns = "other", .name = "b", .identity = "web-id", .selector = "web"}));
  auto findings = run(l);
  auto provider = with_code(findings, "InvalidProviderID");
  ASSERT_EQ(provider.size(), 1u);
  EXPECT_EQ(provider[0].object, "Node node-1");
  auto conflict = with_code(findings, "NameConflict");
  ASSERT_EQ(conflict.size(), 1u);
  EXPECT_EQ(conflict[0].severity, Severity::kWarning);
}

TEST(Findings, SortedErrorsFirstAndExitStatus) {
  std::vector<Finding> f = {{Severity::kInfo, "I", "b", "", ""},
                            {Severity::kWarning, "W", "a", "", ""},
                            {Severity::kError, "E", "c", "", ""}};
  sort_findings(f);
  EXPECT_EQ(f[0].code, "E");
  EXPECT_EQ(f[2].code, "I");
  EXPECT_EQ(exit_status(f), 1);
  EXPECT_EQ(exit_status({f[2]}), 0);
}

}  // namespace
}  // namespace podid::cli
