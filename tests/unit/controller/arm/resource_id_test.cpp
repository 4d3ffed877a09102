// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/resource_id.h"

#include <gtest/gtest.h>

namespace podid::controller::arm {
namespace {

constexpr const char* kSub = "00000000-1111-2222-3333-444444444444";

struct ProviderCase {
  const char* provider_id;
  bool ok;
  ResourceKind kind;
  const char* key;  // expected key() when ok
};

TEST(ResourceId, ProviderIdToScaleSetOrVm) {
  const ProviderCase cases[] = {
      {"azure:///subscriptions/S1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/"
       "aks-pool-123-vmss/virtualMachines/7",
       true, ResourceKind::kScaleSet,
       "/subscriptions/s1/resourcegroups/mc_rg/providers/microsoft.compute/virtualmachinescalesets/aks-pool-123-vmss"},
      // Lower-cased segment names, as some clusters have them.
      {"azure:///subscriptions/s1/resourcegroups/mc_rg/providers/microsoft.compute/virtualmachinescalesets/"
       "AKS-POOL-123-VMSS/virtualmachines/0",
       true, ResourceKind::kScaleSet,
       "/subscriptions/s1/resourcegroups/mc_rg/providers/microsoft.compute/virtualmachinescalesets/aks-pool-123-vmss"},
      // Standalone VM or VMSS Flex member.
      {"azure:///subscriptions/S1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/node-0", true,
       ResourceKind::kVirtualMachine,
       "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/node-0"},
      {"aws:///us-east-1a/i-0abc", false, {}, ""},
      {"azure:///subscriptions/S1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss",
       false,
       {},
       ""},  // a VMSS without instance is not a node
      {"azure:///subscriptions/S1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/extensions/x",
       false,
       {},
       ""},
      {"azure:///subscriptions/S1/resourceGroups//providers/Microsoft.Compute/virtualMachines/vm", false, {}, ""},
      {"azure:///subscriptions/S1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
       false,
       {},
       ""},
      {"", false, {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.provider_id);
    auto r = parse_provider_id(c.provider_id);
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? std::string("parsed") : r.error().message());
    if (!c.ok) {
      EXPECT_NE(r.error().context.find(c.provider_id), std::string::npos);  // the bad input is in the error
      continue;
    }
    EXPECT_EQ(r->kind, c.kind);
    EXPECT_EQ(r->key(), c.key);
  }
}

TEST(ResourceId, IdentityIdParsedAndComparedCaseInsensitively) {
  const std::string a = std::string("/subscriptions/") + kSub +
                        "/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Web-Id";
  const std::string b = std::string("/SUBSCRIPTIONS/") + kSub +
                        "/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/web-id/";
  auto pa = parse_identity_id(a);
  auto pb = parse_identity_id(b);
  ASSERT_TRUE(pa.ok());
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pa->name, "Web-Id");
  EXPECT_EQ(pa->resource_group, "RG");
  EXPECT_EQ(pa->subscription, kSub);
  EXPECT_EQ(pa->id(), a);
  EXPECT_TRUE(*pa == *pb);
  EXPECT_TRUE(same_id(a, b));
  EXPECT_EQ(canonical_key(a), pa->key());
  EXPECT_FALSE(same_id(a, a + "2"));
}

TEST(ResourceId, RejectsWrongKinds) {
  EXPECT_FALSE(
      parse_identity_id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v").ok());
  EXPECT_FALSE(parse_resource_id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/vnets/v").ok());
  EXPECT_FALSE(
      parse_resource_id("subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v").ok());
  EXPECT_FALSE(
      parse_resource_id("/subscriptions/s/resourceGroup/rg/providers/Microsoft.Compute/virtualMachines/v").ok());
  auto vmss =
      parse_resource_id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/x");
  ASSERT_TRUE(vmss.ok());
  EXPECT_EQ(vmss->kind, ResourceKind::kScaleSet);
}

}  // namespace
}  // namespace podid::controller::arm
