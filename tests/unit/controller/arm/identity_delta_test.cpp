// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/identity_delta.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podid::controller::arm {
namespace {

using nlohmann::json;

// A UAMI id as a user writes it ...
std::string uami(const std::string& name) {
  return "/subscriptions/sub/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}
// ... and as ARM often stores it.
std::string uami_arm(const std::string& name) {
  return "/subscriptions/sub/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}

json current(const std::string& type, const std::vector<std::string>& ids) {
  json j = {{"type", type}, {"principalId", "p"}, {"tenantId", "t"}};
  if (!ids.empty()) {
    j["userAssignedIdentities"] = json::object();
    for (const auto& id : ids) j["userAssignedIdentities"][id] = {{"principalId", "x"}, {"clientId", "y"}};
  }
  return j;
}

struct Case {
  const char* name;
  IdentityDeltaInput in;
  std::vector<json> bodies;
};

TEST(IdentityDelta, Table) {
  const Case cases[] = {
      {"nothing to do: no PATCH", {current("None", {}), {}, {}, {}}, {}},
      {"null identity block, nothing desired", {nullptr, {}, {}, {}}, {}},
      {"desired already present in another case: no PATCH",
       {current("UserAssigned", {uami_arm("a")}), {uami("A")}, {uami("a")}, {}},
       {}},
      {"add to a VM with none",
       {nullptr, {uami("a")}, {}, {}},
       {{{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{uami("a"), json::object()}}}}}}}},
      {"system-assigned preserved on add",
       {current("SystemAssigned", {}), {uami("a")}, {}, {}},
       {{{"identity",
          {{"type", "SystemAssigned, UserAssigned"}, {"userAssignedIdentities", {{uami("a"), json::object()}}}}}}}},
      {"pre-existing identity (not in ledger) kept when not desired",
       {current("UserAssigned", {uami_arm("pre")}), {}, {}, {}},
       {}},
      {"ledger id removed, pre-existing one beside it kept",
       {current("UserAssigned", {uami_arm("pre"), uami_arm("mine")}), {}, {uami("MINE")}, {}},
       {{{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{uami_arm("mine"), nullptr}}}}}}}},
      {"in use (still desired) kept although in ledger",
       {current("UserAssigned", {uami_arm("a"), uami_arm("b")}), {uami("a")}, {uami("a"), uami("b")}, {}},
       {{{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{uami_arm("b"), nullptr}}}}}}}},
      {"immutable kept although in ledger and not desired",
       {current("UserAssigned", {uami_arm("a"), uami_arm("imm")}), {}, {uami("a"), uami("imm")}, {uami("IMM")}},
       {{{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{uami_arm("a"), nullptr}}}}}}}},
      {"removing the last UAMI with system-assigned on: type SystemAssigned, no dictionary",
       {current("SystemAssigned, UserAssigned", {uami_arm("a")}), {}, {uami("a")}, {}},
       {{{"identity", {{"type", "SystemAssigned"}}}}}},
      {"removing the last UAMI without system-assigned: type None, no dictionary",
       {current("UserAssigned", {uami_arm("a")}), {}, {uami("a")}, {}},
       {{{"identity", {{"type", "None"}}}}}},
      {"add and remove in one body; ids as ARM spells them, else as desired; type without space accepted",
       {current("SystemAssigned,UserAssigned", {uami_arm("Old")}), {uami("new")}, {uami("old")}, {}},
       {{{"identity",
          {{"type", "SystemAssigned, UserAssigned"},
           {"userAssignedIdentities", {{uami("new"), json::object()}, {uami_arm("Old"), nullptr}}}}}}}},
      {"duplicate desired ids differing in case: one add",
       {nullptr, {uami("a"), uami_arm("A")}, {}, {}},
       {{{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{uami("a"), json::object()}}}}}}}},
      {"ledger entry no longer on the resource: nothing to remove",
       {current("UserAssigned", {uami_arm("pre")}), {}, {uami("gone")}, {}},
       {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = compute_identity_delta(c.in);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->bodies.size(), c.bodies.size());
    EXPECT_EQ(r->empty(), c.bodies.empty());
    for (std::size_t i = 0; i < c.bodies.size(); ++i) EXPECT_EQ(r->bodies[i], c.bodies[i]) << r->bodies[i].dump();
  }
}

TEST(IdentityDelta, ReportsAddedAndRemovedForTheLedger) {
  auto r =
      compute_identity_delta({current("UserAssigned", {uami_arm("x"), uami_arm("pre")}), {uami("y")}, {uami("X")}, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, std::vector<std::string>{uami("y")});
  EXPECT_EQ(r->removed, std::vector<std::string>{uami_arm("x")});
}

std::string name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "id%03d", i);
  return buf;
}

TEST(IdentityDelta, SplitsAt150Entries) {
  IdentityDeltaInput in{current("SystemAssigned", {}), {}, {}, {}};
  for (int i = 0; i < 151; ++i) in.desired.push_back(uami(name(i)));
  auto r = compute_identity_delta(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->bodies.size(), 2u);
  EXPECT_EQ(r->bodies[0]["identity"]["userAssignedIdentities"].size(), 150u);
  EXPECT_EQ(r->bodies[1]["identity"]["userAssignedIdentities"].size(), 1u);
  EXPECT_EQ(r->bodies[1]["identity"]["userAssignedIdentities"].begin().key(), uami(name(150)));
  for (const auto& b : r->bodies) EXPECT_EQ(b["identity"]["type"], "SystemAssigned, UserAssigned");
  EXPECT_EQ(r->added.size(), 151u);

  in.desired.pop_back();
  auto exactly150 = compute_identity_delta(in);
  ASSERT_TRUE(exactly150.ok());
  EXPECT_EQ(exactly150->bodies.size(), 1u);
}

TEST(IdentityDelta, AddsBeforeRemovesAndOnlyTheLastBodyDropsTheDictionary) {
  // 3 ledger ids to remove, 2 to add, chunks of 2: [add,add] [rm,rm] [rm]; the set never becomes empty early.
  IdentityDeltaInput in{current("UserAssigned", {uami_arm("r1"), uami_arm("r2"), uami_arm("r3")}),
                        {uami("a1"), uami("a2")},
                        {uami("r1"), uami("r2"), uami("r3")},
                        {}};
  auto r = compute_identity_delta(in, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->bodies.size(), 3u);
  EXPECT_EQ(r->bodies[0]["identity"]["userAssignedIdentities"][uami("a1")], json::object());
  EXPECT_TRUE(r->bodies[1]["identity"]["userAssignedIdentities"][uami_arm("r1")].is_null());
  EXPECT_EQ(r->bodies[2]["identity"]["userAssignedIdentities"][uami_arm("r3")], nullptr);

  // Everything removed, chunks of 2: the first body keeps the dictionary, the last is type None alone.
  in.desired.clear();
  auto all = compute_identity_delta(in, 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->bodies.size(), 2u);
  EXPECT_EQ(all->bodies[0]["identity"]["type"], "UserAssigned");
  EXPECT_EQ(all->bodies[0]["identity"]["userAssignedIdentities"].size(), 2u);
  EXPECT_EQ(all->bodies[1], (json{{"identity", {{"type", "None"}}}}));
}

TEST(IdentityDelta, BadInputIsAClearError) {
  const IdentityDeltaInput bad[] = {
      {json{{"type", "Weird"}}, {}, {}, {}},
      {json{{"type", 3}}, {}, {}, {}},
      {json::array(), {}, {}, {}},
      {json{{"type", "UserAssigned"}, {"userAssignedIdentities", json::array()}}, {}, {}, {}},
      {nullptr, {"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v"}, {}, {}},
      {nullptr, {}, {"not-an-id"}, {}},
  };
  for (const auto& in : bad) {
    auto r = compute_identity_delta(in);
    ASSERT_FALSE(r.ok()) << in.current.dump();
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    EXPECT_FALSE(r.error().context.empty());
  }
}

}  // namespace
}  // namespace podid::controller::arm
