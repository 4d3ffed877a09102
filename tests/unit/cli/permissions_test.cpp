// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "cli/permissions.h"

namespace podid::cli {
namespace {

using nlohmann::json;

TEST(Permissions, WildcardsAndCase) {
  EXPECT_TRUE(action_matches("*", "Microsoft.Compute/virtualMachineScaleSets/write"));
  EXPECT_TRUE(action_matches("Microsoft.Compute/*", "microsoft.compute/virtualmachinescalesets/WRITE"));
  EXPECT_FALSE(action_matches("*/read", "Microsoft.Compute/virtualMachineScaleSets/write"));
  EXPECT_FALSE(action_matches("Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachineScaleSets/write"));
  // Managed Identity Operator's pattern authorises the assign action ARM checks on linked scopes.
  EXPECT_TRUE(action_matches("Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", kAssignIdentityAction));
  EXPECT_FALSE(action_matches("Microsoft.ManagedIdentity/userAssignedIdentities/*/read", kAssignIdentityAction));
}

TEST(Permissions, NotActionsSubtractWithinTheirRoleOnly) {
  auto contributor = parse_permissions(json::parse(R"({"value":[
      {"actions":["*"],"notActions":["Microsoft.Compute/*/write"],"dataActions":[],"notDataActions":[]}]})"));
  ASSERT_TRUE(contributor.ok());
  EXPECT_FALSE(permits(*contributor, kWriteScaleSetAction));
  EXPECT_TRUE(permits(*contributor, "Microsoft.Compute/virtualMachineScaleSets/read"));
  auto plus_vm_contributor = parse_permissions(json::parse(R"({"value":[
      {"actions":["*"],"notActions":["Microsoft.Compute/*/write"]},
      {"actions":["Microsoft.Compute/*"],"notActions":[]}]})"));
  ASSERT_TRUE(plus_vm_contributor.ok());
  EXPECT_TRUE(permits(*plus_vm_contributor, kWriteScaleSetAction));
  EXPECT_FALSE(permits({}, kWriteScaleSetAction));
}

TEST(Permissions, BadBodiesAreErrors) {
  EXPECT_FALSE(parse_permissions(json::parse(R"({"error":{"code":"x"}})")).ok());
  EXPECT_FALSE(parse_permissions(json::parse(R"({"value":[{"actions":"*"}]})")).ok());
  EXPECT_FALSE(parse_permissions(json::parse(R"({"value":[{"actions":[1]}]})")).ok());
  EXPECT_TRUE(parse_permissions(json::parse(R"({"value":[{"actions":null}]})")).ok());
}

}  // namespace
}  // namespace podid::cli
