// SPDX-License-Identifier: Apache-2.0
#include "agent/identity/identity_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/crd/crd_fixtures.h"

using namespace podid::agent;
using namespace podid::agent::testing;
using ::testing::HasSubstr;

namespace {

std::vector<std::string> keys(auto span) {
  std::vector<std::string> out;
  for (const auto* p : span) out.push_back(p->ns + "/" + p->name);
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store.on_identity_changed([this](const AzureIdentity& before) {
      identity_events.push_back(before.ns + "/" + before.name + "@" + before.resource_version);
    });
    store.on_binding_changed([this](const AzureIdentityBinding& before) {
      binding_events.push_back(before.ns + "/" + before.name + "@" + before.resource_version);
    });
  }

  IdentityStore store;
  std::vector<std::string> identity_events, binding_events;
};

TEST_F(StoreTest, IndexesAreOrderedByNamespaceAndName) {
  store.replace_bindings({binding_json({.ns = "zeta", .name = "b1", .identity = "i"}),
                          binding_json({.ns = "app", .name = "b2", .identity = "i"}),
                          binding_json({.ns = "app", .name = "b1", .identity = "i"}),
                          binding_json({.ns = "app", .name = "other", .identity = "i", .selector = "db"})});
  EXPECT_EQ(keys(store.bindings_with_selector("web")), (std::vector<std::string>{"app/b1", "app/b2", "zeta/b1"}));
  EXPECT_EQ(keys(store.bindings_with_selector("db")), (std::vector<std::string>{"app/other"}));
  EXPECT_TRUE(store.bindings_with_selector("Web").empty());  // selectors match exactly
  EXPECT_TRUE(store.bindings_with_selector("").empty());

  store.apply_binding(Change::kAdded, binding_json({.ns = "app", .name = "b0", .identity = "i"}));
  EXPECT_EQ(keys(store.bindings_with_selector("web")),
            (std::vector<std::string>{"app/b0", "app/b1", "app/b2", "zeta/b1"}));
  // A selector change moves the binding between buckets.
  store.apply_binding(Change::kModified, binding_json({.ns = "app", .name = "b1", .identity = "i", .selector = "db"}));
  EXPECT_EQ(keys(store.bindings_with_selector("web")), (std::vector<std::string>{"app/b0", "app/b2", "zeta/b1"}));
  EXPECT_EQ(keys(store.bindings_with_selector("db")), (std::vector<std::string>{"app/b1", "app/other"}));
  store.apply_binding(Change::kDeleted, binding_json({.ns = "app", .name = "b0", .identity = "i"}));
  EXPECT_EQ(keys(store.bindings_with_selector("web")), (std::vector<std::string>{"app/b2", "zeta/b1"}));
  EXPECT_EQ(store.counts().bindings, 4u);
}

TEST_F(StoreTest, AssignedByPodAndExceptionsByNamespace) {
  store.replace_assigned_identities({assigned_json({.pod = "web", .identity = "id-a", .client_id = kCidA}),
                                     assigned_json({.pod = "web", .identity = "id-b", .client_id = kCidB}),
                                     assigned_json({.pod = "db", .identity = "id-a", .client_id = kCidA})});
  EXPECT_EQ(store.assigned_to_pod("app", "web").size(), 2u);
  EXPECT_EQ(store.assigned_to_pod("app", "db").size(), 1u);
  EXPECT_TRUE(store.assigned_to_pod("other", "web").empty());
  store.apply_assigned_identity(Change::kDeleted, assigned_json({.pod = "web", .identity = "id-a"}));
  EXPECT_EQ(store.assigned_to_pod("app", "web").size(), 1u);

  store.replace_exceptions({exception_json("app", "e1", {{"a", "b"}}), exception_json("kube-system", "e2", {})});
  EXPECT_EQ(keys(store.exceptions_in("app")), (std::vector<std::string>{"app/e1"}));
  EXPECT_TRUE(store.exceptions_in("default").empty());
  EXPECT_EQ(store.counts().exceptions, 2u);
}

TEST_F(StoreTest, IdentityLookupAndPointerStability) {
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA})});
  const AzureIdentity* a = store.identity("app", "id-a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(store.identity("app", "id-b"), nullptr);
  EXPECT_EQ(store.identity("other", "id-a"), nullptr);
  for (int i = 0; i < 100; ++i) {
    store.apply_identity(Change::kAdded, identity_json({.name = "x" + std::to_string(i), .client_id = kCidB}));
  }
  EXPECT_EQ(store.identity("app", "id-a"), a);
  EXPECT_EQ(a->client_id, kCidA);
  EXPECT_EQ(store.identities_with_client_id("bbbbbbbb-2222-4222-8222-00000000000b").size(), 100u);
}

TEST_F(StoreTest, MalformedObjectsSkippedReportedOnce) {
  json bad_id = identity_json({.name = "bad", .client_id = ""});
  json bad_binding = binding_json({.name = "nb", .identity = "id-a", .selector = ""});
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA}), bad_id});
  store.replace_bindings({bad_binding});
  EXPECT_EQ(store.counts().identities, 1u);
  EXPECT_EQ(store.counts().bindings, 0u);
  auto rejected = store.rejected();
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0].kind, CrdKind::kAzureIdentity);
  EXPECT_EQ(rejected[0].key, "app/bad");
  EXPECT_THAT(rejected[0].error.message(), HasSubstr("spec.clientID"));
  EXPECT_EQ(rejected[1].kind, CrdKind::kAzureIdentityBinding);
  EXPECT_EQ(store.counts().rejections_total, 2u);

  // The same bad object on a relist, or replayed by a watch, is not counted again.
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA}), bad_id});
  store.apply_identity(Change::kModified, bad_id);
  EXPECT_EQ(store.counts().rejections_total, 2u);
  EXPECT_EQ(store.counts().rejected, 2u);

  // Fixed: no longer listed; deleted while bad: no longer listed.
  store.apply_identity(Change::kModified, identity_json({.name = "bad", .client_id = kCidB}));
  store.apply_binding(Change::kDeleted, bad_binding);
  EXPECT_TRUE(store.rejected().empty());
  EXPECT_EQ(store.counts().identities, 2u);

  // Gone from a relist: no longer listed either.
  store.apply_identity(Change::kModified, bad_id);
  EXPECT_EQ(store.counts().rejected, 1u);
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA})});
  EXPECT_TRUE(store.rejected().empty());
  EXPECT_EQ(store.counts().rejections_total, 3u);
}

TEST_F(StoreTest, UpdateToInvalidRemovesTheOldVersionAndNotifies) {
  store.apply_identity(Change::kAdded, identity_json({.name = "id-a", .client_id = kCidA, .rv = "1"}));
  store.apply_identity(Change::kModified,
                       identity_json({.name = "id-a", .client_id = kCidA, .resource_id = "junk", .rv = "2"}));
  EXPECT_EQ(store.identity("app", "id-a"), nullptr);
  EXPECT_EQ(identity_events, (std::vector<std::string>{"app/id-a@1"}));
  EXPECT_EQ(store.counts().rejected, 1u);
}

TEST_F(StoreTest, IdentityNotificationsOnTokenRelevantChangesOnly) {
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA, .rv = "1"})});
  EXPECT_TRUE(identity_events.empty());
  // resourceVersion-only and annotation-only updates do not touch tokens.
  store.apply_identity(Change::kModified, identity_json({.name = "id-a", .client_id = kCidA, .rv = "2"}));
  store.apply_identity(Change::kModified,
                       identity_json({.name = "id-a", .client_id = kCidA, .behavior = "namespaced", .rv = "3"}));
  EXPECT_TRUE(identity_events.empty());
  EXPECT_TRUE(store.identity("app", "id-a")->namespaced_behavior);
  // A new client id does, reported with the old value.
  store.apply_identity(Change::kModified, identity_json({.name = "id-a", .client_id = kCidB, .rv = "4"}));
  EXPECT_EQ(identity_events, (std::vector<std::string>{"app/id-a@3"}));
  EXPECT_EQ(store.identity("app", "id-a")->client_id, kCidB);
  // So does a resource id change, and a deletion.
  store.apply_identity(Change::kModified,
                       identity_json({.name = "id-a", .client_id = kCidB, .resource_id = resource_id("a"), .rv = "5"}));
  store.apply_identity(Change::kDeleted, identity_json({.name = "id-a", .client_id = kCidB, .rv = "5"}));
  EXPECT_EQ(identity_events, (std::vector<std::string>{"app/id-a@3", "app/id-a@4", "app/id-a@5"}));
  EXPECT_EQ(store.identity("app", "id-a"), nullptr);
  // Deleting what is not there is a no-op.
  store.apply_identity(Change::kDeleted, identity_json({.name = "id-a", .client_id = kCidB}));
  EXPECT_EQ(store.counts().identity_changes, 3u);
}

TEST_F(StoreTest, RelistDiffsAgainstThePreviousCopy) {
  store.replace_identities({identity_json({.name = "keep", .client_id = kCidA, .rv = "1"}),
                            identity_json({.name = "change", .client_id = kCidA, .rv = "1"}),
                            identity_json({.name = "gone", .client_id = kCidA, .rv = "1"})});
  store.replace_identities({identity_json({.name = "keep", .client_id = kCidA, .rv = "9"}),
                            identity_json({.name = "change", .client_id = kCidB, .rv = "9"}),
                            identity_json({.name = "new", .client_id = kCidA, .rv = "9"})});
  std::sort(identity_events.begin(), identity_events.end());
  EXPECT_EQ(identity_events, (std::vector<std::string>{"app/change@1", "app/gone@1"}));
  EXPECT_EQ(store.counts().identities, 3u);

  store.replace_bindings({binding_json({.name = "b-keep", .identity = "keep", .rv = "1"}),
                          binding_json({.name = "b-move", .identity = "keep", .rv = "1"}),
                          binding_json({.name = "b-gone", .identity = "keep", .rv = "1"})});
  store.replace_bindings({binding_json({.name = "b-keep", .identity = "keep", .rv = "2"}),
                          binding_json({.name = "b-move", .identity = "new", .rv = "2"})});
  std::sort(binding_events.begin(), binding_events.end());
  EXPECT_EQ(binding_events, (std::vector<std::string>{"app/b-gone@1", "app/b-move@1"}));
}

TEST_F(StoreTest, BindingNotifications) {
  store.apply_binding(Change::kAdded, binding_json({.name = "b", .identity = "id-a", .rv = "1"}));
  store.apply_binding(Change::kModified, binding_json({.name = "b", .identity = "id-a", .rv = "2"}));
  EXPECT_TRUE(binding_events.empty());
  store.apply_binding(Change::kModified, binding_json({.name = "b", .identity = "id-a", .selector = "x", .rv = "3"}));
  store.apply_binding(Change::kModified, binding_json({.name = "b", .identity = "id-b", .selector = "x", .rv = "4"}));
  store.apply_binding(Change::kDeleted, binding_json({.name = "b", .identity = "id-b", .selector = "x", .rv = "4"}));
  EXPECT_EQ(binding_events, (std::vector<std::string>{"app/b@2", "app/b@3", "app/b@4"}));
}

TEST_F(StoreTest, AddedForAKnownKeyIsAnUpdate) {
  store.apply_identity(Change::kAdded, identity_json({.name = "id-a", .client_id = kCidA, .rv = "1"}));
  store.apply_identity(Change::kAdded, identity_json({.name = "id-a", .client_id = kCidB, .rv = "2"}));
  EXPECT_EQ(store.counts().identities, 1u);
  EXPECT_EQ(store.identity("app", "id-a")->client_id, kCidB);
  EXPECT_EQ(identity_events, (std::vector<std::string>{"app/id-a@1"}));
}

TEST_F(StoreTest, LearnPrincipalId) {
  store.replace_identities(
      {identity_json({.name = "id-a", .client_id = kCidA}),
       identity_json({.ns = "other", .name = "same-a", .client_id = "AAAAAAAA-1111-4111-8111-00000000000A"}),
       identity_json({.name = "id-b", .client_id = kCidB, .principal = "stale-annotation"})});
  EXPECT_FALSE(store.learn_principal_id(kCidX, kOidA));  // no identity has that client id
  EXPECT_TRUE(store.learn_principal_id("AAAAAAAA-1111-4111-8111-00000000000a", "0A0A0A0A-AAAA-4AAA-8AAA-0000000000A0"));
  EXPECT_FALSE(store.learn_principal_id(kCidA, kOidA));  // already known
  EXPECT_EQ(store.identity("app", "id-a")->principal_id, kOidA);
  EXPECT_EQ(store.identity("other", "same-a")->principal_id, kOidA);
  // The token wins over an annotation.
  EXPECT_TRUE(store.learn_principal_id(kCidB, kOidB));
  EXPECT_EQ(store.identity("app", "id-b")->principal_id, kOidB);
  // Kept across updates and relists of the identity, which carry no principal themselves.
  store.apply_identity(Change::kModified, identity_json({.name = "id-a", .client_id = kCidA, .rv = "2"}));
  store.apply_identity(Change::kModified,
                       identity_json({.name = "id-b", .client_id = kCidB, .principal = "stale-annotation", .rv = "2"}));
  EXPECT_EQ(store.identity("app", "id-a")->principal_id, kOidA);
  EXPECT_EQ(store.identity("app", "id-b")->principal_id, kOidB);
  store.replace_identities({identity_json({.name = "id-a", .client_id = kCidA, .rv = "3"})});
  EXPECT_EQ(store.identity("app", "id-a")->principal_id, kOidA);
  EXPECT_TRUE(identity_events.size() == 2u);  // other/same-a and id-b left; learning itself never notifies
  // A client id change drops what was learned for the old one.
  store.apply_identity(Change::kModified, identity_json({.name = "id-a", .client_id = kCidX, .rv = "4"}));
  EXPECT_EQ(store.identity("app", "id-a")->principal_id, "");
  EXPECT_EQ(store.counts().principals_learned, 2u);
}

}  // namespace
