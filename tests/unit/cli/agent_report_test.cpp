// SPDX-License-Identifier: Apache-2.0
// `podid explain`'s view of the node agent: its decisions document read, and what explain says without it.
#include "cli/agent_report.h"

#include <gtest/gtest.h>

#include "cli/explain.h"
#include "cli/render.h"
#include "cli_fixtures.h"

namespace podid::cli {
namespace {

using namespace testing;

constexpr const char* kDocument = R"({"node":"node-1","pod_uid":"uid-web","namespace":"app","pod":"web",
  "cgroup":{"id":4200,"path":"/kubepods.slice/kubepods-poduid_web.slice"},"recorded":3,"kept_per_pod":16,
  "decisions":[
   {"time":"2026-12-07T04:50:00.000Z","cgroup_id":4242,"cgroup_path":null,"client_id":"","resource":"r",
    "decision":"not_found","reason":"no_binding","source":"","status":400,"latency_us":12},
   {"time":"2026-12-07T04:49:00.000Z","cgroup_id":4242,"cgroup_path":"/kubepods.slice/x.scope","client_id":"c1",
    "resource":"https://vault.azure.net","decision":"served","reason":"bound","source":"cache","status":200,
    "latency_us":40,"subject":"system:serviceaccount:app:web"}]})";

TEST(AgentReport, ReadsTheAgentsDocument) {
  auto r = parse_agent_report(kDocument);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->fetched);
  EXPECT_EQ(r->node, "node-1");
  EXPECT_EQ(r->cgroup_id, 4200u);
  EXPECT_EQ(r->cgroup_path, "/kubepods.slice/kubepods-poduid_web.slice");
  EXPECT_EQ(r->recorded, 3u);
  ASSERT_EQ(r->decisions.size(), 2u);
  EXPECT_EQ(r->decisions[0].decision, "not_found");
  EXPECT_EQ(r->decisions[0].cgroup_path, "");
  EXPECT_EQ(r->decisions[1].client_id, "c1");
  EXPECT_EQ(r->decisions[1].subject, "system:serviceaccount:app:web");
  EXPECT_EQ(r->decisions[1].status, 200u);
}

TEST(AgentReport, RefusesWhatIsNotTheAgentsDocument) {
  EXPECT_FALSE(parse_agent_report("not json"));
  EXPECT_FALSE(parse_agent_report(R"({"node":"n"})"));
  EXPECT_FALSE(parse_agent_report(R"({"decisions":[1]})"));
}

TEST(AgentReport, WithoutTheAgentSaysHowToReachItAndItsAuditLines) {
  auto view = build_view(healthy(), "podid-system");
  const crd::PodInfo* pod = view.pod("app", "web");
  ASSERT_NE(pod, nullptr);
  AgentReport r = agent_unreachable(view, "podid-system", *pod, "not asked (no --agent-url)");
  EXPECT_FALSE(r.fetched);
  EXPECT_EQ(r.note, "not asked (no --agent-url)");
  EXPECT_EQ(r.port_forward,
            "kubectl port-forward -n podid-system pod/podid-agent-node-1 9103:9103 (then --agent-url "
            "http://127.0.0.1:9103)");
  EXPECT_EQ(r.audit_lines,
            R"(kubectl logs -n podid-system pod/podid-agent-node-1 | grep '"namespace":"app","pod":"web"')");

  auto l = healthy();
  l.pods.pop_back();  // no agent on node-1
  auto bare = build_view(l, "podid-system");
  AgentReport none = agent_unreachable(bare, "podid-system", *bare.pod("app", "web"), "x");
  EXPECT_EQ(none.note, "x; no podid-agent pod runs on node node-1");
  EXPECT_EQ(none.port_forward, "");
}

TEST(AgentReport, ExplainShowsTheCgroupAndTheDecisionsNewestFirst) {
  auto view = build_view(healthy(), "podid-system");
  Explanation e = explain_pod(view, "app", "web", DoctorPolicy{});
  auto report = parse_agent_report(kDocument);
  ASSERT_TRUE(report);
  e.agent = *report;
  std::string text = render_explanation_text(e, false);
  EXPECT_NE(text.find("cgroup      /kubepods.slice/kubepods-poduid_web.slice (id 4200)\n"), std::string::npos) << text;
  auto refused = text.find("decisions   2026-12-07T04:50:00.000Z not_found r (no_binding, 400)\n");
  auto served = text.find("2026-12-07T04:49:00.000Z served https://vault.azure.net client id c1 (bound, 200)\n");
  EXPECT_NE(refused, std::string::npos) << text;
  EXPECT_NE(served, std::string::npos) << text;
  EXPECT_LT(refused, served);
  EXPECT_NE(text.find("(the last 2 of 3, newest first)"), std::string::npos) << text;
  auto doc = nlohmann::json::parse(render_explanation_json(e));
  EXPECT_EQ(doc["cgroup"]["id"], 4200);
  EXPECT_EQ(doc["agent"]["decisions"][1]["resource"], "https://vault.azure.net");
}

}  // namespace
}  // namespace podid::cli
