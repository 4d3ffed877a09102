// SPDX-License-Identifier: Apache-2.0
// The incremental desired state: what one change reaches (a pod event touches its compute only), and, on random
// streams of changes, exactly what the full computation gives for the same objects.
#include "controller/state/desired_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "state_fixtures.h"

namespace podid::controller {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kPool1 = vmss_key("pool1");
const std::string kPool2 = vmss_key("pool2");

std::shared_ptr<const IdentityRecord> identity(const IdentitySpec& s) {
  return cached<crd::AzureIdentity>(identity_json(s), crd::parse_azure_identity);
}
std::shared_ptr<const BindingRecord> binding(const BindingSpec& s) {
  return cached<crd::AzureIdentityBinding>(binding_json(s), crd::parse_azure_identity_binding);
}
PodRecord pod(const PodSpec& s) { return pod_of(pod_json(s)); }

std::vector<std::string> computes(const Reach& r) { return {r.computes.begin(), r.computes.end()}; }
std::vector<std::string> names(const std::vector<ObjectName>& v) {
  std::vector<std::string> out;
  for (const auto& n : v) out.push_back(n.first + "/" + n.second);
  return out;
}

// Two pools of two nodes, two identities bound to selectors web and api.
DesiredIndex two_pools() {
  DesiredIndex index;
  index.upsert_node({"node-1", vmss_instance("pool1", 0)});
  index.upsert_node({"node-2", vmss_instance("pool1", 1)});
  index.upsert_node({"node-3", vmss_instance("pool2", 0)});
  index.upsert_node({"node-4", vmss_instance("pool2", 1)});
  index.upsert_identity(identity({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a")}));
  index.upsert_identity(identity({.name = "id-b", .client_id = kCidB, .resource_id = resource_id("b")}));
  index.upsert_binding(binding({.name = "web", .identity = "id-a", .selector = "web"}));
  index.upsert_binding(binding({.name = "api", .identity = "id-b", .selector = "api"}));
  return index;
}

TEST(DesiredIndex, APodEventReachesItsComputeOnly) {
  DesiredIndex index = two_pools();
  for (int i = 0; i < 50; ++i) index.upsert_pod(pod({.name = "web-" + std::to_string(i), .node = "node-3"}));

  Reach added = index.upsert_pod(pod({.name = "web-new", .node = "node-1"}));
  EXPECT_THAT(computes(added), ElementsAre(kPool1));
  EXPECT_THAT(names(added.appeared), ElementsAre("default/web-new-app-id-a"));
  EXPECT_THAT(names(added.vanished), IsEmpty());
  EXPECT_THAT(index.computes().at(kPool1).identity_ids, ElementsAre(resource_id("a")));

  // Moved to another pool: both are reached; deleted: its pool only.
  Reach moved = index.upsert_pod(pod({.name = "web-new", .node = "node-4"}));
  EXPECT_THAT(computes(moved), UnorderedElementsAre(kPool1, kPool2));
  EXPECT_THAT(index.computes().at(kPool1).identity_ids, IsEmpty());
  Reach gone = index.remove_pod({"app", "web-new"});
  EXPECT_THAT(computes(gone), ElementsAre(kPool2));
  EXPECT_THAT(names(gone.vanished), ElementsAre("default/web-new-app-id-a"));
  EXPECT_EQ(index.assignment_count(), 50u);
}

TEST(DesiredIndex, AnUnchangedObjectReachesNothing) {
  DesiredIndex index = two_pools();
  index.upsert_pod(pod({.name = "web-0", .node = "node-1"}));
  EXPECT_TRUE(index.upsert_pod(pod({.name = "web-0", .node = "node-1"})).empty());
  EXPECT_TRUE(index.upsert_node({"node-1", vmss_instance("pool1", 0)}).empty());
  // The controller's own condition writes change an identity's status and resourceVersion only.
  json written = identity_json({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a"), .rv = "99"});
  written["status"] = {{"conditions", json::array({{{"type", "Assigned"}, {"status", "True"}}})}};
  EXPECT_TRUE(index.upsert_identity(cached<crd::AzureIdentity>(written, crd::parse_azure_identity)).empty());
  EXPECT_EQ(index.identity({"app", "id-a"})->object.resource_version, "99") << "the current record is kept";
}

TEST(DesiredIndex, BindingAndIdentityEventsReachThePodsTheyMatch) {
  DesiredIndex index = two_pools();
  index.upsert_pod(pod({.name = "web-0", .node = "node-1"}));
  index.upsert_pod(pod({.name = "api-0", .selector = "api", .node = "node-3"}));
  // The identity's resource id changes: only pool1's pods use it.
  Reach r = index.upsert_identity(identity({.name = "id-a", .client_id = kCidA, .resource_id = resource_id("a2")}));
  EXPECT_THAT(computes(r), ElementsAre(kPool1));
  EXPECT_THAT(index.computes().at(kPool1).identity_ids, ElementsAre(resource_id("a2")));
  // The binding now selects api: web-0 loses its AAI, api-0 gains one.
  r = index.upsert_binding(binding({.name = "web", .identity = "id-a", .selector = "api"}));
  EXPECT_THAT(computes(r), UnorderedElementsAre(kPool1, kPool2));
  EXPECT_THAT(names(r.vanished), ElementsAre("default/web-0-app-id-a"));
  EXPECT_THAT(names(r.appeared), ElementsAre("default/api-0-app-id-a"));
  EXPECT_THAT(index.computes().at(kPool2).identity_ids, ElementsAre(resource_id("a2"), resource_id("b")));
  // The identity goes: its binding's pods have nothing from it, and the binding is reported.
  r = index.remove_identity({"app", "id-a"});
  EXPECT_THAT(computes(r), ElementsAre(kPool2));
  std::vector<std::string> problems;
  for (const auto& p : index.problems()) problems.push_back(p.id());
  EXPECT_THAT(problems, ElementsAre("AzureIdentityBinding/app/web/IdentityNotFound"));
}

TEST(DesiredIndex, NodeEventsMoveItsPodsAssignments) {
  DesiredIndex index = two_pools();
  index.upsert_pod(pod({.name = "web-0", .node = "node-1"}));
  Reach r = index.upsert_node({"node-1", vmss_instance("pool2", 5)});
  EXPECT_THAT(computes(r), UnorderedElementsAre(kPool1, kPool2));
  EXPECT_EQ(index.assignment({"default", "web-0-app-id-a"})->compute_key, kPool2);
  r = index.remove_node("node-1");
  EXPECT_THAT(computes(r), UnorderedElementsAre(kPool2, ""));
  EXPECT_EQ(index.assignment({"default", "web-0-app-id-a"})->compute_key, "");
  EXPECT_THAT(index.computes().at(kPool2).nodes, ElementsAre("node-3", "node-4"));
}

// --- the incremental state equals the full computation -------------------------------------------------------
void expect_same_as_full(const DesiredIndex& index) {
  DesiredState kept = index.state();
  DesiredState full = compute_desired_state(index.snapshot());
  EXPECT_EQ(index.difference_from(full), "");  // what the controller's full pass asks
  ASSERT_EQ(kept.assignments.size(), full.assignments.size());
  for (std::size_t i = 0; i < kept.assignments.size(); ++i) {
    const auto& a = kept.assignments[i];
    const auto& b = full.assignments[i];
    SCOPED_TRACE(a.ns + "/" + a.name);
    EXPECT_EQ(std::tie(a.ns, a.name, a.pod, a.pod_namespace, a.pod_uid, a.node, a.compute_key),
              std::tie(b.ns, b.name, b.pod, b.pod_namespace, b.pod_uid, b.node, b.compute_key));
    EXPECT_EQ(a.identity->object.ns + "/" + a.identity->object.name,
              b.identity->object.ns + "/" + b.identity->object.name);
    EXPECT_EQ(a.binding->object.ns + "/" + a.binding->object.name, b.binding->object.ns + "/" + b.binding->object.name);
  }
  EXPECT_EQ(kept.computes, full.computes);
  std::set<std::string> kept_problems, full_problems;
  for (const auto& p : kept.problems) kept_problems.insert(p.id());
  for (const auto& p : full.problems) full_problems.insert(p.id());
  EXPECT_EQ(kept_problems, full_problems);
}

TEST(DesiredIndex, TheFullPassSeesADifference) {
  DesiredIndex index = two_pools();
  index.upsert_pod(pod({.name = "web-0", .node = "node-1"}));
  DesiredState full = compute_desired_state(index.snapshot());
  EXPECT_EQ(index.difference_from(full), "");
  DesiredState other = full;
  other.assignments[0].compute_key = kPool2;
  EXPECT_EQ(index.difference_from(other), "assignment default/web-0-app-id-a");
  other = full;
  other.computes.erase(kPool2);
  EXPECT_EQ(index.difference_from(other), "computes");
  other = full;
  other.assignments.clear();
  EXPECT_EQ(index.difference_from(other), "assignments: 1 kept, 0 computed");
}

// Random changes over a small world, so that selectors, names and nodes collide often: namespaced identities,
// identities with one name in two namespaces (name conflicts), unusable nodes, finished pods, invalid
// identities, bindings naming missing identities.
TEST(DesiredIndex, RandomChangesGiveWhatTheFullComputationGives) {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::vector<std::string> namespaces = {"app", "ops"};
    const std::vector<std::string> selectors = {"web", "api", "db"};
    DesiredIndex index(seed % 5 == 0);
    for (int step = 0; step < 300; ++step) {
      const std::string ns = namespaces[pick(2)];
      switch (pick(9)) {
        case 0:
        case 1:
        case 2: {
          PodSpec p{.ns = ns,
                    .name = "p" + std::to_string(pick(8)),
                    .selector = selectors[pick(3)],
                    .node = pick(6) == 0 ? "" : "node-" + std::to_string(pick(5))};
          if (pick(8) == 0) p.phase = "Succeeded";
          index.upsert_pod(pod(p));
          break;
        }
        case 3:
          index.remove_pod({ns, "p" + std::to_string(pick(8))});
          break;
        case 4: {
          const int n = pick(5);
          std::string provider = pick(5) == 0   ? ""
                                 : pick(4) == 0 ? "aws:///i-123"
                                                : vmss_instance("pool" + std::to_string(pick(3)), n);
          if (pick(6) == 0) {
            index.remove_node("node-" + std::to_string(n));
          } else {
            index.upsert_node({"node-" + std::to_string(n), provider});
          }
          break;
        }
        case 5: {
          const std::string name = "id-" + std::to_string(pick(3));
          if (pick(5) == 0) {
            index.remove_identity({ns, name});
            break;
          }
          IdentitySpec s{.ns = ns, .name = name, .client_id = kCidA, .resource_id = resource_id(name + ns)};
          if (pick(6) == 0) s.resource_id = "";  // invalid: type 0 without a resource id
          if (pick(4) == 0) s.behavior = "namespaced";
          if (pick(7) == 0) s.type = 1, s.resource_id = "";
          json raw = identity_json(s);
          if (s.type == 1) raw["spec"]["tenantID"] = "t", raw["spec"]["clientPassword"] = {{"name", "secret"}};
          index.upsert_identity(cached<crd::AzureIdentity>(raw, crd::parse_azure_identity));
          break;
        }
        case 6:
        case 7: {
          const std::string name = "b" + std::to_string(pick(4));
          if (pick(5) == 0) {
            index.remove_binding({ns, name});
          } else {
            index.upsert_binding(binding(
                {.ns = ns, .name = name, .identity = "id-" + std::to_string(pick(4)), .selector = selectors[pick(3)]}));
          }
          break;
        }
        case 8: {  // a rename in place: a pod recreated with another uid
          json raw = pod_json(
              {.ns = ns, .name = "p" + std::to_string(pick(8)), .selector = selectors[pick(3)], .node = "node-1"});
          raw["metadata"]["uid"] = "u" + std::to_string(pick(100));
          index.upsert_pod(pod_of(raw));
          break;
        }
      }
      if (step % 25 == 24) {
        expect_same_as_full(index);
        if (::testing::Test::HasFailure()) return;
      }
    }
    expect_same_as_full(index);
  }
}

}  // namespace
}  // namespace podid::controller
