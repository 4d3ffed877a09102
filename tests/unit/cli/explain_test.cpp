// SPDX-License-Identifier: Apache-2.0
// `podid explain`: the agent's choice and the rule behind it, the near misses, the assignment and the compute.
#include <gtest/gtest.h>

#include "cli/explain.h"
#include "cli/render.h"
#include "cli_fixtures.h"

namespace podid::cli {
namespace {

using namespace testing;

Explanation explain(const ListedObjects& l, const std::string& ns, const std::string& name, DoctorPolicy policy = {}) {
  return explain_pod(build_view(l, policy.podid_namespace), ns, name, policy);
}

TEST(Explain, ChosenIdentityAndRule) {
  auto e = explain(healthy(), "app", "web");
  ASSERT_TRUE(e.found);
  EXPECT_EQ(e.outcome, "identity");
  EXPECT_EQ(e.identity, "app/web-id");
  EXPECT_EQ(e.binding, "app/web-binding");
  EXPECT_EQ(e.client_id, kCidA);
  EXPECT_EQ(e.rule, "rule 4: the only identity bound to the pod that may be served now");
  ASSERT_EQ(e.assignments.size(), 1u);
  EXPECT_EQ(e.assignments[0].state, "Assigned");
  EXPECT_EQ(e.compute_id, kVmss);
  EXPECT_EQ(exit_status(e), 0);
}

TEST(Explain, NotAssignedYetAndNoBinding) {
  auto l = healthy();
  l.assigned[0]["status"]["status"] = "Created";
  l.pods.push_back(pod_json("app", "plain", {}));
  auto waiting = explain(l, "app", "web");
  EXPECT_EQ(waiting.outcome, "none");
  EXPECT_EQ(waiting.reason, "not_assigned_yet");
  EXPECT_FALSE(waiting.matches.at(0).servable);
  EXPECT_EQ(exit_status(waiting), 1);
  EXPECT_EQ(explain(l, "app", "plain").reason, "no_binding");
  EXPECT_FALSE(explain(l, "app", "nobody").found);
}

TEST(Explain, NearMisses) {
  auto l = healthy();
  l.bindings.push_back(binding_json({.name = "upper", .identity = "web-id", .selector = "WEB"}));
  l.identities.push_back(identity_json({.ns = "shop", .name = "ns-id", .client_id = kCidB,
                                        .resource_id = resource_id("ns-id"), .behavior = "namespaced"}));
  l.bindings.push_back(binding_json({.ns = "shop", .name = "elsewhere", .identity = "ns-id", .selector = "web"}));
  l.bindings.push_back(binding_json({.name = "dangling", .identity = "ghost", .selector = "web"}));
  auto e = explain(l, "app", "web");
  ASSERT_EQ(e.near_misses.size(), 3u);
  EXPECT_EQ(e.near_misses[0].binding, "app/upper");
  EXPECT_NE(e.near_misses[0].why.find("only in case"), std::string::npos);
  EXPECT_EQ(e.near_misses[1].binding, "shop/elsewhere");
  EXPECT_NE(e.near_misses[1].why.find("the identity is namespaced"), std::string::npos);
  EXPECT_EQ(e.near_misses[2].binding, "app/dangling");
  EXPECT_EQ(e.identity, "app/web-id");  // the near misses do not change the choice
}

TEST(Explain, ExceptedPodGetsTheNodesIdentity) {
  auto l = healthy();
  l.exceptions.push_back(exception_json("app", "ops", {{"aadpodidbinding", "web"}}));
  auto e = explain(l, "app", "web");
  EXPECT_EQ(e.outcome, "excepted");
  EXPECT_NE(e.rule.find("rule 1"), std::string::npos);
  EXPECT_EQ(exit_status(e), 0);
}

TEST(Explain, IdentityOnTheComputeFromArm) {
  auto e = explain(healthy(), "app", "web");
  json on = {{"identity", {{"userAssignedIdentities", {{resource_id("WEB-ID"), json::object()}}}}}};
  record_compute(e, {200, on, "", "", ""});
  EXPECT_EQ(e.on_compute, true);
  record_compute(e, {200, json::object(), "", "", ""});
  EXPECT_EQ(e.on_compute, false);
  auto denied = explain(healthy(), "app", "web");
  record_compute(denied, {403, json::object(), "AuthorizationFailed", "", ""});
  EXPECT_FALSE(denied.on_compute.has_value());
  EXPECT_NE(render_explanation_text(denied, false).find("AuthorizationFailed"), std::string::npos);
  auto j = json::parse(render_explanation_json(e));
  EXPECT_EQ(j["identity_on_compute"], false);
  EXPECT_EQ(j["identity"], "app/web-id");
}

}  // namespace
}  // namespace podid::cli
