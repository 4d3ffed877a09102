// SPDX-License-Identifier: Apache-2.0
// `podid doctor`'s federated credential checks: which identities and service accounts, and each mistake a
// credential can hold (none, the wrong subject, the wrong issuer, the wrong audience, the 20-credential limit).
#include "cli/federated_checks.h"

#include <gtest/gtest.h>

#include "cli_fixtures.h"

namespace podid::cli {
namespace {

using namespace testing;

constexpr const char* kIssuer = "https://oidc.example/tenant/cluster/";

// app/orders-id is federated; pods app/orders (service account "orders") and app/other (default) are bound to it.
ListedObjects federated_cluster() {
  ListedObjects l = healthy();
  l.identities.push_back(identity_json(
      {.name = "orders-id", .client_id = kCidB, .resource_id = resource_id("orders-id"), .federated = "true"}));
  l.bindings.push_back(binding_json({.name = "orders-binding", .identity = "orders-id", .selector = "orders"}));
  auto orders = pod_json("app", "orders", {{"aadpodidbinding", "orders"}});
  orders["spec"]["serviceAccountName"] = "orders";
  l.pods.push_back(orders);
  l.pods.push_back(pod_json("app", "other", {{"aadpodidbinding", "orders"}}));
  return l;
}

json credential(const std::string& name, const std::string& issuer, const std::string& subject,
                const std::string& audience = "api://AzureADTokenExchange") {
  return {{"name", name},
          {"properties", {{"issuer", issuer}, {"subject", subject}, {"audiences", json::array({audience})}}}};
}

std::vector<Finding> judge(const ListedObjects& l, std::vector<json> creds, const std::string& issuer = kIssuer) {
  auto view = build_view(l, "podid-system");
  FederatedPlan plan = plan_federated_checks(view, DoctorPolicy{});
  std::map<std::string, ArmAnswer> answers;
  for (const auto& check : plan.checks) {
    answers[controller::arm::canonical_key(check.resource_id)] =
        ArmAnswer{.status = 200, .body = {{"value", creds}}, .error_code = {}, .error_message = {}, .failure = {}};
  }
  return federated_findings(plan, answers, issuer, issuer.empty() ? "not found" : "", "oid-1");
}

std::vector<std::string> codes(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.code);
  return out;
}

}  // namespace

TEST(FederatedChecks, PlansOneListPerFederatedIdentityWithEachBoundServiceAccount) {
  auto view = build_view(federated_cluster(), "podid-system");
  FederatedPlan plan = plan_federated_checks(view, DoctorPolicy{});
  ASSERT_EQ(plan.checks.size(), 1u);  // app/web-id is not federated
  EXPECT_EQ(plan.checks[0].object, "AzureIdentity app/orders-id");
  EXPECT_EQ(plan.checks[0].subjects,
            (std::vector<std::string>{"system:serviceaccount:app:default", "system:serviceaccount:app:orders"}));
  EXPECT_EQ(federated_credentials_path(plan.checks[0].resource_id),
            resource_id("orders-id") + "/federatedIdentityCredentials");
}

TEST(FederatedChecks, AWorkloadIdentityServiceAccountNamesItsIdentityByClientId) {
  ListedObjects l = healthy();
  l.identities.push_back(identity_json({.name = "wi-id", .client_id = kCidB, .resource_id = resource_id("wi-id")}));
  auto pod = pod_json("shop", "api", {{"azure.workload.identity/use", "true"}});
  pod["spec"]["serviceAccountName"] = "api";
  l.pods.push_back(pod);
  l.service_accounts.push_back({{"apiVersion", "v1"},
                                {"kind", "ServiceAccount"},
                                {"metadata",
                                 {{"namespace", "shop"},
                                  {"name", "api"},
                                  {"resourceVersion", "1"},
                                  {"annotations", {{"azure.workload.identity/client-id", kCidB}}}}}});
  auto view = build_view(l, "podid-system");
  FederatedPlan plan = plan_federated_checks(view, DoctorPolicy{});
  ASSERT_EQ(plan.checks.size(), 1u);
  EXPECT_EQ(plan.checks[0].object, "AzureIdentity app/wi-id");
  EXPECT_EQ(plan.checks[0].subjects, std::vector<std::string>{"system:serviceaccount:shop:api"});

  l.identities.pop_back();  // now no AzureIdentity has that client id
  auto unknown = plan_federated_checks(build_view(l, "podid-system"), DoctorPolicy{});
  EXPECT_TRUE(unknown.checks.empty());
  ASSERT_EQ(codes(unknown.unresolved), std::vector<std::string>{"FederatedIdentityUnknown"});
  EXPECT_EQ(unknown.unresolved[0].object, "ServiceAccount shop/api");
}

TEST(FederatedChecks, EveryServiceAccountWithItsCredentialIsNothingWrong) {
  EXPECT_TRUE(judge(federated_cluster(), {credential("a", kIssuer, "system:serviceaccount:app:orders"),
                                          credential("b", kIssuer, "system:serviceaccount:app:default")})
                  .empty());
}

TEST(FederatedChecks, NoCredentialAtAllIsMissingWithTheCreateCommand) {
  auto findings = judge(federated_cluster(), {});
  ASSERT_EQ(codes(findings), (std::vector<std::string>{"FederatedCredentialMissing", "FederatedCredentialMissing"}));
  EXPECT_NE(findings[1].cause.find("system:serviceaccount:app:orders: the identity has none"), std::string::npos);
  EXPECT_EQ(findings[1].fix,
            "az identity federated-credential create --name app-orders --identity-name orders-id --resource-group "
            "rg-ids --subscription 00000000-0000-0000-0000-000000000001 --issuer "
            "https://oidc.example/tenant/cluster/ --subject system:serviceaccount:app:orders --audiences "
            "api://AzureADTokenExchange");
}

TEST(FederatedChecks, ACredentialForAnotherSubjectIsTheWrongSubject) {
  auto findings = judge(federated_cluster(), {credential("a", kIssuer, "system:serviceaccount:app:order"),
                                              credential("b", kIssuer, "system:serviceaccount:app:default")});
  ASSERT_EQ(codes(findings), std::vector<std::string>{"FederatedCredentialWrongSubject"});
  EXPECT_NE(findings[0].cause.find("a (subject system:serviceaccount:app:order)"), std::string::npos)
      << findings[0].cause;
  EXPECT_NE(findings[0].fix.find("--subject system:serviceaccount:app:orders"), std::string::npos);
}

TEST(FederatedChecks, ACredentialFromAnotherIssuerIsTheWrongIssuer) {
  auto findings = judge(federated_cluster(),
                        {credential("a", "https://oidc.example/tenant/cluster", "system:serviceaccount:app:orders"),
                         credential("b", kIssuer, "system:serviceaccount:app:default")});
  ASSERT_EQ(codes(findings), std::vector<std::string>{"FederatedCredentialWrongIssuer"});
  EXPECT_NE(findings[0].cause.find("only by a trailing slash"), std::string::npos) << findings[0].cause;
  EXPECT_EQ(findings[0].fix.rfind("az identity federated-credential update --name a ", 0), 0u) << findings[0].fix;
}

TEST(FederatedChecks, ACredentialForAnotherAudienceIsTheWrongAudience) {
  auto findings = judge(federated_cluster(), {credential("a", kIssuer, "system:serviceaccount:app:orders", "api://x"),
                                              credential("b", kIssuer, "system:serviceaccount:app:default")});
  ASSERT_EQ(codes(findings), std::vector<std::string>{"FederatedCredentialWrongAudience"});
}

TEST(FederatedChecks, MoreThanTwentyCredentialsNeededIsTheLimit) {
  std::vector<json> creds;
  for (int i = 0; i < 19; ++i)
    creds.push_back(credential("old" + std::to_string(i), kIssuer, "system:serviceaccount:x:s" + std::to_string(i)));
  auto findings = judge(federated_cluster(), creds);  // two more needed: 21
  auto c = codes(findings);
  ASSERT_EQ(std::count(c.begin(), c.end(), "FederatedCredentialLimit"), 1) << ::testing::PrintToString(c);
  const auto& limit = *std::find_if(findings.begin(), findings.end(),
                                    [](const Finding& f) { return f.code == "FederatedCredentialLimit"; });
  EXPECT_NE(limit.cause.find("has 19 federated credentials and needs 2 more"), std::string::npos) << limit.cause;
  EXPECT_NE(limit.fix.find("az identity federated-credential delete --name old0 "), std::string::npos);
  creds.pop_back();  // 18 + 2 = 20: allowed
  auto fits = codes(judge(federated_cluster(), creds));
  EXPECT_EQ(std::count(fits.begin(), fits.end(), "FederatedCredentialLimit"), 0);
}

TEST(FederatedChecks, AnUnknownIssuerIsSaidAndIssuersAreNotCompared) {
  auto findings = judge(federated_cluster(),
                        {credential("a", "https://elsewhere/", "system:serviceaccount:app:orders"),
                         credential("b", "https://elsewhere/", "system:serviceaccount:app:default")},
                        "");
  ASSERT_EQ(codes(findings), std::vector<std::string>{"OidcIssuerUnknown"});
}

TEST(FederatedChecks, AnIdentityThatCannotBeReadIsSaid) {
  auto view = build_view(federated_cluster(), "podid-system");
  FederatedPlan plan = plan_federated_checks(view, DoctorPolicy{});
  std::map<std::string, ArmAnswer> answers{
      {controller::arm::canonical_key(plan.checks[0].resource_id),
       ArmAnswer{.status = 403, .body = {}, .error_code = "AuthorizationFailed", .error_message = {}, .failure = {}}}};
  EXPECT_EQ(codes(federated_findings(plan, answers, kIssuer, "", "oid-1")), std::vector<std::string>{"ArmReadDenied"});
  answers.begin()->second.status = 404;  // IdentityNotFoundInAzure says it already
  EXPECT_TRUE(federated_findings(plan, answers, kIssuer, "", "oid-1").empty());
}

TEST(FederatedChecks, AFederatedIdentityNeedsNoAssignPermission) {
  auto view = build_view(federated_cluster(), "podid-system");
  ArmPlan plan = plan_arm_checks(view, DoctorPolicy{});
  for (const auto& scope : plan.scopes) {
    EXPECT_EQ(std::find(scope.needed_for.begin(), scope.needed_for.end(), "app/orders-id"), scope.needed_for.end())
        << scope.scope;
  }
}

}  // namespace podid::cli
