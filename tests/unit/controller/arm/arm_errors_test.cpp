// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/arm_errors.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podid::controller::arm {
namespace {

// Message shapes from azure-wire-formats.md §5.3/§5.5, placeholders filled in.
constexpr const char* kVmss =
    "/subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-vmss";
constexpr const char* kId1 =
    "/subscriptions/sub-1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one";
constexpr const char* kId2 =
    "/subscriptions/sub-1/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID_two";

const std::string kAuthorizationFailed =
    std::string(
        R"({"error":{"code":"AuthorizationFailed","message":"The client 'app-guid' with object id 'oid-guid' does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' over scope ')") +
    kVmss + R"(' or the scope is invalid. If access was recently granted, please refresh your credentials."}})";

const std::string kLinkedAuthorizationFailed =
    std::string(
        R"({"error":{"code":"LinkedAuthorizationFailed","message":"The client 'app-guid' with object id 'oid-guid' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope ')") +
    kVmss +
    R"('; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) ')" +
    kId1 + "," + kId2 + R"(' or the linked scope(s) are invalid."}})";

const std::string kFailedIdentityOperation =
    std::string(R"({"error":{"code":"FailedIdentityOperation","message":"Identity operation for resource ')") + kVmss +
    R"(' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource ')" +
    kId2 + R"(' was not found.\"}}'.'."}})";

const std::string kThrottled =
    R"({"error":{"code":"OperationNotAllowed","message":"The server rejected the request because too many requests have been received for this subscription.","details":[{"code":"TooManyRequests","target":"HighCostGet30Min","message":"{\"operationGroup\":\"HighCostGet30Min\",\"startTime\":\"2018-06-29T19:54:21.0914017+00:00\",\"endTime\":\"2018-06-29T20:14:21.0914017+00:00\",\"allowedRequestCount\":800,\"measuredRequestCount\":1238}"}]}})";

struct Case {
  const char* name;
  std::string body;
  const char* code;
  std::vector<std::string> identities;
  bool retry_without;
  std::string remedy;
};

TEST(ArmErrors, ReferenceMessages) {
  const Case cases[] = {
      {"AuthorizationFailed",
       kAuthorizationFailed,
       "AuthorizationFailed",
       {},
       false,
       std::string("az role assignment create --assignee oid-guid --role \"Virtual Machine Contributor\" --scope ") +
           kVmss},
      {"LinkedAuthorizationFailed",
       kLinkedAuthorizationFailed,
       "LinkedAuthorizationFailed",
       {kId1, kId2},
       true,
       std::string("az role assignment create --assignee oid-guid --role \"Managed Identity Operator\" --scope ") +
           kId1 + "\naz role assignment create --assignee oid-guid --role \"Managed Identity Operator\" --scope " +
           kId2},
      {"FailedIdentityOperation", kFailedIdentityOperation, "FailedIdentityOperation", {kId2}, true, ""},
      {"throttled, nested details", kThrottled, "OperationNotAllowed", {}, false, ""},
      {"unwrapped envelope",
       R"({"code":"ResourceGroupNotFound","message":"Resource group 'rg' could not be found."})",
       "ResourceGroupNotFound",
       {},
       false,
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_arm_error(c.body);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->code, c.code);
    EXPECT_EQ(r->identities, c.identities);
    EXPECT_EQ(r->retry_without_identities(), c.retry_without);
    EXPECT_EQ(r->remedy(), c.remedy);
  }
}

TEST(ArmErrors, AuthorizationFieldsExtracted) {
  auto a = parse_arm_error(kAuthorizationFailed);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->client_id, "app-guid");
  EXPECT_EQ(a->principal, "oid-guid");
  EXPECT_EQ(a->action, "Microsoft.Compute/virtualMachineScaleSets/write");
  EXPECT_EQ(a->scopes, std::vector<std::string>{kVmss});

  auto l = parse_arm_error(kLinkedAuthorizationFailed);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->action, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action");
  EXPECT_EQ(l->scopes, (std::vector<std::string>{kId1, kId2}));
}

TEST(ArmErrors, IdentitiesInDetailsAreCollectedOnce) {
  const std::string body = std::string(R"({"error":{"code":"Outer","message":"see details","details":[)") +
                           R"({"code":"FailedIdentityOperation","message":"Resource ')" + kId1 +
                           R"(' was not found."},)" + R"({"code":"FailedIdentityOperation","message":"Resource ')" +
                           kId1 + R"(' was not found."}]}})";
  auto r = parse_arm_error(body);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->details.size(), 2u);
  EXPECT_EQ(r->identities, std::vector<std::string>{kId1});
}

TEST(ArmErrors, NoPrincipalNoRemedy) {
  auto r = parse_arm_error(R"({"error":{"code":"AuthorizationFailed","message":"denied"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_authorization_failure());
  EXPECT_EQ(r->remedy(), "");
}

TEST(ArmErrors, BadBodiesAreClearErrors) {
  for (const char* body : {"", "not json", "[]", R"({"error":{"message":"no code"}})", R"({"error":{"code":1}})",
                           R"({"error":{"code":"X","details":[3]}})"}) {
    SCOPED_TRACE(body);
    auto r = parse_arm_error(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  }
}

}  // namespace
}  // namespace podid::controller::arm
