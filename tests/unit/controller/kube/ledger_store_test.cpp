// SPDX-License-Identifier: Apache-2.0
// The pure parts of the ConfigMap ledger: names, normalisation, reading a ConfigMap back.
#include "controller/kube/ledger_store.h"

#include <gtest/gtest.h>

#include "controller/kube/kube_errors.h"

namespace podid::controller::kube {
namespace {

using nlohmann::json;

arm::ResourceId vmss(const std::string& name, const std::string& rg = "rg-1") {
  return arm::parse_resource_id("/subscriptions/sub/resourceGroups/" + rg +
                                "/providers/Microsoft.Compute/virtualMachineScaleSets/" + name)
      .value();
}
std::string uami(const std::string& name) {
  return "/subscriptions/sub/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}

TEST(LedgerName, PrefixAnd16HexOfTheCanonicalKey) {
  std::string name = ledger_name(vmss("pool-a"));
  ASSERT_EQ(name.size(), kLedgerNamePrefix.size() + 16);
  EXPECT_EQ(name.substr(0, kLedgerNamePrefix.size()), kLedgerNamePrefix);
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef", kLedgerNamePrefix.size()), std::string::npos);
  // ARM ids are case-insensitive: one resource, one ConfigMap.
  EXPECT_EQ(ledger_name(vmss("POOL-A", "RG-1")), name);
  EXPECT_NE(ledger_name(vmss("pool-b")), name);
  // SHA-256("/subscriptions/sub/resourcegroups/rg-1/providers/microsoft.compute/virtualmachinescalesets/pool-a"),
  // computed independently (python3 hashlib), first 16 hex.
  EXPECT_EQ(vmss("pool-a").key(),
            "/subscriptions/sub/resourcegroups/rg-1/providers/microsoft.compute/virtualmachinescalesets/pool-a");
  EXPECT_EQ(name, "podid-ledger-45f069d849fc7dc2");
}

TEST(NormalizedLedger, DeduplicatesIgnoringCaseAndSortsByKey) {
  auto out = normalized_ledger({uami("b"), uami("A"), uami("a"), uami("B"), "", uami("c")});
  EXPECT_EQ(out, (std::vector<std::string>{uami("A"), uami("b"), uami("c")}));
  EXPECT_TRUE(normalized_ledger({}).empty());
}

TEST(LedgerIds, RoundTripsThroughTheConfigMap) {
  auto compute = vmss("pool-a");
  json cm = ledger_config_map("podid-system", compute, {uami("a"), uami("b")});
  EXPECT_EQ(cm["metadata"]["name"], ledger_name(compute));
  EXPECT_EQ(cm["metadata"]["namespace"], "podid-system");
  EXPECT_EQ(cm["metadata"]["labels"]["app.kubernetes.io/managed-by"], "podid-controller");
  EXPECT_EQ(cm["metadata"]["annotations"]["podid.io/resource-id"], compute.id());
  EXPECT_TRUE(cm["data"]["identities"].is_string());  // ConfigMap data values are strings
  auto ids = ledger_ids(cm, compute);
  ASSERT_TRUE(ids.ok()) << ids.error().message();
  EXPECT_EQ(ids.value(), (std::vector<std::string>{uami("a"), uami("b")}));
  // The annotation may be spelled in another case than we ask with.
  ASSERT_TRUE(ledger_ids(cm, vmss("POOL-A", "RG-1")).ok());
  // An emptied record is [] and reads back as empty.
  json empty = ledger_config_map("ns", compute, {});
  EXPECT_EQ(empty["data"]["identities"], "[]");
  EXPECT_TRUE(ledger_ids(empty, compute).value().empty());
}

TEST(LedgerIds, CollisionIsRefusedNotMerged) {
  json cm = ledger_config_map("ns", vmss("pool-a"), {uami("a")});
  auto ids = ledger_ids(cm, vmss("pool-b"));  // as if pool-b's hash prefix equalled pool-a's
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.error().code, KubeError::kNameCollision);
  EXPECT_NE(ids.error().message().find("pool-a"), std::string::npos);
}

TEST(LedgerIds, BadConfigMapsAreErrorsNamingTheProblem) {
  auto compute = vmss("pool-a");
  struct Case {
    const char* name;
    json cm;
    const char* needle;
  };
  json good = ledger_config_map("ns", compute, {uami("a")});
  json no_annotation = good;
  no_annotation["metadata"].erase("annotations");
  json not_array = good;
  not_array["data"]["identities"] = "{\"a\":1}";
  json not_json = good;
  not_json["data"]["identities"] = "[unterminated";
  json non_string = good;
  non_string["data"]["identities"] = "[1]";
  json data_not_string = good;
  data_not_string["data"]["identities"] = json::array({uami("a")});
  const Case cases[] = {{"no annotation", no_annotation, "annotation"},
                        {"object, not array", not_array, "not a JSON array"},
                        {"not JSON", not_json, "not a JSON array"},
                        {"number in the array", non_string, "non-string"},
                        {"data value not a string", data_not_string, "not a string"}};
  for (const auto& c : cases) {
    auto ids = ledger_ids(c.cm, compute);
    ASSERT_FALSE(ids.ok()) << c.name;
    EXPECT_EQ(ids.error().code, KubeError::kMalformedObject) << c.name;
    EXPECT_NE(ids.error().message().find(c.needle), std::string::npos) << c.name << ": " << ids.error().message();
  }
  // No data at all: nothing recorded (an operator created it by hand), not an error.
  json no_data = good;
  no_data.erase("data");
  EXPECT_TRUE(ledger_ids(no_data, compute).value().empty());
}

}  // namespace
}  // namespace podid::controller::kube
