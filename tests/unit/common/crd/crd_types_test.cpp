// SPDX-License-Identifier: Apache-2.0
#include "podid/crd/crd_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/crd/crd_fixtures.h"

using namespace podid::crd;
using namespace podid::agent::testing;
using ::testing::HasSubstr;

namespace {

// Asserts an invalid_argument error naming the object and the field.
void expect_invalid(const podid::Error& e, const std::string& object, const std::string& field) {
  EXPECT_EQ(e.code, std::errc::invalid_argument);
  EXPECT_THAT(e.context, HasSubstr(object + ": " + field + ":"));
}

TEST(ParseAzureIdentity, UserAssignedCamelCase) {
  json o = identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a"), .rv = "42"});
  auto r = parse_azure_identity(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ns, "app");
  EXPECT_EQ(r->name, "id-a");
  EXPECT_EQ(r->resource_version, "42");
  EXPECT_EQ(r->type, IdentityType::kUserAssigned);
  EXPECT_EQ(r->client_id, kCidA);
  EXPECT_EQ(r->resource_id, resource_id("a"));
  EXPECT_FALSE(r->namespaced_behavior);
  EXPECT_EQ(r->principal_id, "");
}

TEST(ParseAzureIdentity, PreV16PascalCaseFields) {
  json o = {{"metadata", metadata("app", "old", "1")},
            {"spec",
             {{"Type", "1"},
              {"ClientID", kCidA},
              {"TenantID", "tenant-1"},
              {"ClientPassword", {{"Name", "sp-secret"}, {"Namespace", "secrets"}}},
              {"ResourceID", ""}}}};
  auto r = parse_azure_identity(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->type, IdentityType::kServicePrincipal);
  EXPECT_EQ(r->client_id, kCidA);
  EXPECT_EQ(r->tenant_id, "tenant-1");
  EXPECT_EQ(r->client_password, (SecretRef{"sp-secret", "secrets"}));
}

TEST(ParseAzureIdentity, CamelCaseWinsOverPascalCase) {
  json o = {{"metadata", metadata("app", "both", "1")},
            {"spec", {{"ClientID", kCidB}, {"clientID", kCidA}, {"Type", 1}, {"type", 0}}}};
  auto r = parse_azure_identity(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->client_id, kCidA);
  EXPECT_EQ(r->type, IdentityType::kUserAssigned);
}

TEST(ParseAzureIdentity, TypeAsNumberOrNumericString) {
  for (json t : {json(2), json("2")}) {
    json o = {{"metadata", metadata("app", "cert", "1")},
              {"spec", {{"type", t}, {"clientID", kCidA}, {"tenantID", "t"}, {"clientPassword", {{"name", "c"}}}}}};
    auto r = parse_azure_identity(o);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->type, IdentityType::kServicePrincipalCertificate);
    // A SecretReference without a namespace means the identity's own.
    EXPECT_EQ(r->client_password, (SecretRef{"c", "app"}));
  }
}

TEST(ParseAzureIdentity, AbsentTypeIsUserAssigned) {
  json o = {{"metadata", metadata("app", "id", "1")}, {"spec", {{"clientID", kCidA}}}};
  auto r = parse_azure_identity(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->type, IdentityType::kUserAssigned);
}

TEST(ParseAzureIdentity, BadTypesRejected) {
  for (json t : {json(3), json(-1), json("abc"), json(""), json("1.0"), json(true), json(1.5)}) {
    json o = {{"metadata", metadata("app", "bad", "1")}, {"spec", {{"type", t}, {"clientID", kCidA}}}};
    auto r = parse_azure_identity(o);
    ASSERT_FALSE(r.ok()) << t.dump();
    expect_invalid(r.error(), "AzureIdentity app/bad", "spec.type");
  }
}

TEST(ParseAzureIdentity, UserAssignedNeedsClientId) {
  auto r = parse_azure_identity(identity_json({.name = "noid", .resource_id = resource_id("a")}));
  ASSERT_FALSE(r.ok());
  expect_invalid(r.error(), "AzureIdentity app/noid", "spec.clientID");
}

TEST(ParseAzureIdentity, MalformedResourceIdRejected) {
  for (const std::string& bad :
       std::vector<std::string>{"/subscriptions/s/resourcegroups/rg", "garbage",
                                "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
                                resource_id("a") + "/extra", resource_id("")}) {
    auto r = parse_azure_identity(identity_json({.name = "bad", .client_id = kCidA, .resource_id = bad}));
    ASSERT_FALSE(r.ok()) << bad;
    expect_invalid(r.error(), "AzureIdentity app/bad", "spec.resourceID");
  }
}

TEST(ParseAzureIdentity, ServicePrincipalNeedsTenantAndSecret) {
  json o = {{"metadata", metadata("app", "sp", "1")}, {"spec", {{"type", 1}, {"clientID", kCidA}}}};
  auto r = parse_azure_identity(o);
  ASSERT_FALSE(r.ok());
  expect_invalid(r.error(), "AzureIdentity app/sp", "spec.tenantID");
  o["spec"]["tenantID"] = "t";
  r = parse_azure_identity(o);
  ASSERT_FALSE(r.ok());
  expect_invalid(r.error(), "AzureIdentity app/sp", "spec.clientPassword.name");
  o["spec"]["clientPassword"] = {{"name", "s"}, {"namespace", "vault"}};
  o["spec"]["auxiliaryTenantIDs"] = {"t2", "t3"};
  o["spec"]["adEndpoint"] = "https://login.microsoftonline.us/";
  r = parse_azure_identity(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->auxiliary_tenant_ids, (std::vector<std::string>{"t2", "t3"}));
  EXPECT_EQ(r->ad_endpoint, "https://login.microsoftonline.us/");
  EXPECT_EQ(r->client_password, (SecretRef{"s", "vault"}));
}

TEST(ParseAzureIdentity, WrongFieldTypesRejected) {
  json o = identity_json({.name = "x", .client_id = kCidA});
  o["spec"]["clientID"] = 12;
  expect_invalid(parse_azure_identity(o).error(), "AzureIdentity app/x", "spec.clientID");
  o = identity_json({.name = "x", .client_id = kCidA});
  o["spec"]["auxiliaryTenantIDs"] = "t2";
  expect_invalid(parse_azure_identity(o).error(), "AzureIdentity app/x", "spec.auxiliaryTenantIDs");
  o = identity_json({.name = "x", .client_id = kCidA});
  o["spec"] = "nope";
  expect_invalid(parse_azure_identity(o).error(), "AzureIdentity app/x", "spec");
}

TEST(ParseAzureIdentity, MissingMetadataNamedAsUnknown) {
  auto r = parse_azure_identity(json{{"spec", {{"clientID", kCidA}}}});
  ASSERT_FALSE(r.ok());
  expect_invalid(r.error(), "AzureIdentity ?/?", "metadata.name");
  r = parse_azure_identity(json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
}

TEST(ParseAzureIdentity, AnnotationsNamespacedAndPrincipal) {
  for (std::string v : {"namespaced", "Namespaced", "NAMESPACED"}) {
    auto r = parse_azure_identity(identity_json(
        {.name = "n", .client_id = kCidA, .behavior = v, .principal = "0A0A0A0A-AAAA-4AAA-8AAA-0000000000A0"}));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->namespaced_behavior) << v;
    EXPECT_EQ(r->principal_id, kOidA);
  }
  auto r = parse_azure_identity(identity_json({.name = "n", .client_id = kCidA, .behavior = "cluster"}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->namespaced_behavior);
}

TEST(ParseAzureIdentity, FederatedMarker) {
  // The predecessor's type 0 object, unchanged but for the annotation.
  auto r = parse_azure_identity(
      identity_json({.name = "f", .client_id = kCidA, .resource_id = resource_id("f"), .federated = "True"}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->federated);
  // An app registration (type 1) needs neither secret nor tenant when federated.
  r = parse_azure_identity(identity_json({.name = "app", .client_id = kCidA, .type = 1, .federated = "true"}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->federated);
  // "false" is no marker; anything else is a mistake worth naming; a certificate is not federated.
  r = parse_azure_identity(identity_json({.name = "f", .client_id = kCidA, .federated = "false"}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->federated);
  expect_invalid(parse_azure_identity(identity_json({.name = "f", .client_id = kCidA, .federated = "yes"})).error(),
                 "AzureIdentity app/f", "metadata.annotations[podid.io/federated]");
  expect_invalid(
      parse_azure_identity(identity_json({.name = "f", .client_id = kCidA, .type = 2, .federated = "true"})).error(),
      "AzureIdentity app/f", "spec.type");
  expect_invalid(parse_azure_identity(identity_json({.name = "f", .client_id = "", .federated = "true"})).error(),
                 "AzureIdentity app/f", "spec.clientID");
}

TEST(ParseAzureIdentity, TokenRelevantChange) {
  AzureIdentity a = parse_azure_identity(identity_json({.name = "a", .client_id = kCidA, .rv = "1"})).value();
  AzureIdentity b = a;
  b.resource_version = "2";
  b.namespaced_behavior = true;
  b.principal_id = kOidA;
  EXPECT_FALSE(b.token_relevant_change_from(a));
  b.client_id = kCidB;
  EXPECT_TRUE(b.token_relevant_change_from(a));
  b = a;
  b.client_password.name = "other";
  EXPECT_TRUE(b.token_relevant_change_from(a));
  b = a;
  b.auxiliary_tenant_ids = {"t"};
  EXPECT_TRUE(b.token_relevant_change_from(a));
  b = a;
  b.federated = true;
  EXPECT_TRUE(b.token_relevant_change_from(a));
}

TEST(ResourceId, Shape) {
  EXPECT_TRUE(is_user_assigned_resource_id(resource_id("a")));
  EXPECT_TRUE(is_user_assigned_resource_id(
      "/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/PROVIDERS/microsoft.managedidentity/USERASSIGNEDIDENTITIES/n"));
  EXPECT_TRUE(is_user_assigned_resource_id(
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/n"));
  EXPECT_FALSE(is_user_assigned_resource_id(""));
  EXPECT_FALSE(
      is_user_assigned_resource_id("subscriptions/s/resourcegroups/rg/providers/"
                                   "Microsoft.ManagedIdentity/userAssignedIdentities/n"));
  EXPECT_FALSE(is_user_assigned_resource_id(
      "/subscriptions//resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/n"));
  EXPECT_FALSE(is_user_assigned_resource_id(
      "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/n/"));
  EXPECT_FALSE(is_user_assigned_resource_id(
      "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentities/userAssignedIdentities/n"));
}

TEST(ParseBinding, CamelAndPascalCase) {
  auto r = parse_azure_identity_binding(binding_json({.name = "b", .identity = "id-a", .selector = "web"}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->azure_identity, "id-a");
  EXPECT_EQ(r->selector, "web");
  json old = {{"metadata", metadata("app", "old", "1")},
              {"spec", {{"AzureIdentity", "id-a"}, {"Selector", "Web"}, {"Weight", "not-a-number"}}}};
  r = parse_azure_identity_binding(old);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->azure_identity, "id-a");
  EXPECT_EQ(r->selector, "Web");  // kept as written: selectors match exactly
}

TEST(ParseBinding, RequiresIdentityAndSelector) {
  auto r = parse_azure_identity_binding(binding_json({.name = "b", .identity = "", .selector = "web"}));
  expect_invalid(r.error(), "AzureIdentityBinding app/b", "spec.azureIdentity");
  r = parse_azure_identity_binding(binding_json({.name = "b", .identity = "id", .selector = ""}));
  expect_invalid(r.error(), "AzureIdentityBinding app/b", "spec.selector");
}

TEST(ParseAssigned, AllFieldsAndStates) {
  auto r = parse_azure_assigned_identity(
      assigned_json({.pod = "web-0", .identity = "id-a", .client_id = kCidA, .state = "Assigned", .node = "n1"}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ns, "default");
  EXPECT_EQ(r->pod, "web-0");
  EXPECT_EQ(r->pod_namespace, "app");
  EXPECT_EQ(r->node, "n1");
  EXPECT_EQ(r->identity_ns, "app");
  EXPECT_EQ(r->identity_name, "id-a");
  EXPECT_EQ(r->identity_client_id, kCidA);
  EXPECT_EQ(r->binding_name, "binding");
  EXPECT_EQ(r->state, AssignedState::kAssigned);
  const std::pair<std::string, AssignedState> states[] = {{"", AssignedState::kNone},
                                                          {"Created", AssignedState::kCreated},
                                                          {"Unassigned", AssignedState::kUnassigned},
                                                          {"assigned", AssignedState::kAssigned},
                                                          {"Weird", AssignedState::kUnknown}};
  for (const auto& [s, want] : states) {
    auto a = parse_azure_assigned_identity(assigned_json({.identity = "id-a", .client_id = kCidA, .state = s}));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->state, want) << s;
  }
}

TEST(ParseAssigned, RequiresPodAndIdentityRef) {
  json o = assigned_json({.identity = "id-a", .client_id = kCidA});
  o["spec"].erase("pod");
  expect_invalid(parse_azure_assigned_identity(o).error(), "AzureAssignedIdentity default/web-app-id-a", "spec.pod");
  o = assigned_json({.identity = "id-a", .client_id = kCidA});
  o["spec"]["azureIdentityRef"]["metadata"].erase("namespace");
  expect_invalid(parse_azure_assigned_identity(o).error(), "AzureAssignedIdentity default/web-app-id-a",
                 "spec.azureIdentityRef.metadata.namespace");
}

TEST(ParseException, CamelAndPascalCase) {
  auto r = parse_azure_pod_identity_exception(exception_json("app", "e", {{"team", "infra"}, {"app", "mic"}}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pod_labels, (Labels{{"app", "mic"}, {"team", "infra"}}));
  json old = {{"metadata", metadata("app", "old", "1")}, {"spec", {{"PodLabels", {{"app", "mic"}}}}}};
  r = parse_azure_pod_identity_exception(old);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pod_labels, (Labels{{"app", "mic"}}));
  old["spec"]["PodLabels"]["n"] = 1;
  expect_invalid(parse_azure_pod_identity_exception(old).error(), "AzurePodIdentityException app/old",
                 "spec.podLabels.n");
}

TEST(ParsePod, Fields) {
  json o = {
      {"metadata", {{"namespace", "app"}, {"name", "web-0"}, {"uid", "u-1"}, {"labels", {{"aadpodidbinding", "web"}}}}},
      {"spec", {{"nodeName", "node-1"}, {"hostNetwork", true}, {"serviceAccountName", "sa"}}},
      {"status",
       {{"phase", "Running"}, {"podIP", "10.0.0.5"}, {"podIPs", {{{"ip", "10.0.0.5"}}, {{"ip", "fd00::5"}}}}}}};
  auto r = parse_pod(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->uid, "u-1");
  EXPECT_EQ(r->ns, "app");
  EXPECT_EQ(r->name, "web-0");
  EXPECT_EQ(r->node, "node-1");
  EXPECT_TRUE(r->host_network);
  EXPECT_EQ(r->service_account, "sa");
  EXPECT_EQ(r->phase, "Running");
  EXPECT_EQ(r->labels, (Labels{{"aadpodidbinding", "web"}}));
  EXPECT_EQ(r->pod_ips, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  o["spec"]["hostNetwork"] = "yes";
  expect_invalid(parse_pod(o).error(), "Pod app/web-0", "spec.hostNetwork");
}

}  // namespace
