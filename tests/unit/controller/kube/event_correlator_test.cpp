// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/event_correlator.h"

#include <gtest/gtest.h>

#include <set>

#include "controller/kube/event_recorder.h"

namespace podid::controller::kube {
namespace {

using namespace std::chrono;
using Action = EventCorrelator::Action;

const system_clock::time_point kT0 = sys_days{year{2024} / January / 1};

ObjectRef binding(const std::string& name = "web-binding") {
  return {"aadpodidentity.k8s.io/v1", "AzureIdentityBinding", "team-a", name, "uid-" + name, "41"};
}

TEST(EventCorrelator, RepeatWithinTheWindowIsAggregated) {
  EventCorrelator c;
  auto first = c.observe(binding(), EventType::kWarning, "binding apply error", "role missing", kT0);
  EXPECT_EQ(first.action, Action::kCreate);
  EXPECT_EQ(first.count, 1);
  auto second = c.observe(binding(), EventType::kWarning, "binding apply error", "role missing", kT0 + seconds(30));
  EXPECT_EQ(second.action, Action::kAggregate);
  EXPECT_EQ(second.count, 2);
  EXPECT_EQ(second.name, first.name);
  EXPECT_EQ(second.first_timestamp, kT0);
  auto third = c.observe(binding(), EventType::kWarning, "binding apply error", "role missing", kT0 + minutes(9));
  EXPECT_EQ(third.action, Action::kAggregate);
  EXPECT_EQ(third.count, 3);
}

TEST(EventCorrelator, AnyDifferenceIsANewEvent) {
  EventCorrelator c;
  auto base = c.observe(binding(), EventType::kWarning, "binding apply error", "m", kT0);
  std::set<std::string> names{base.name};
  auto other_message = c.observe(binding(), EventType::kWarning, "binding apply error", "m2", kT0);
  auto other_reason = c.observe(binding(), EventType::kWarning, "binding applied", "m", kT0);
  auto other_type = c.observe(binding(), EventType::kNormal, "binding apply error", "m", kT0);
  auto other_object = c.observe(binding("db-binding"), EventType::kWarning, "binding apply error", "m", kT0);
  for (const auto& d : {other_message, other_reason, other_type, other_object}) {
    EXPECT_EQ(d.action, Action::kCreate);
    EXPECT_EQ(d.count, 1);
    EXPECT_TRUE(names.insert(d.name).second) << "name reused: " << d.name;  // unique despite one clock reading
  }
}

TEST(EventCorrelator, AfterTheWindowARepeatStartsANewEvent) {
  EventCorrelator c;
  auto first = c.observe(binding(), EventType::kNormal, "binding applied", "ok", kT0);
  auto later = c.observe(binding(), EventType::kNormal, "binding applied", "ok", kT0 + minutes(10));
  EXPECT_EQ(later.action, Action::kCreate);
  EXPECT_NE(later.name, first.name);
  EXPECT_EQ(later.count, 1);
}

TEST(EventCorrelator, NameIsObjectDotSixteenHexOfUnixNanoseconds) {
  EventCorrelator c;
  auto d = c.observe(binding(), EventType::kNormal, "r", "m", system_clock::time_point{} + nanoseconds(0x17d0f3c2a1b2c3d4));
  EXPECT_EQ(d.name, "web-binding.17d0f3c2a1b2c3d4");
}

TEST(EventCorrelator, SpamFilterCapsEventsPerObjectPerMinute) {
  EventCorrelator c({.max_per_object_per_minute = 3});
  int written = 0;
  for (int i = 0; i < 5; ++i) {
    auto d = c.observe(binding(), EventType::kWarning, "r", std::string("m") + std::to_string(i), kT0 + seconds(i));
    if (d.action != Action::kDrop) ++written;
  }
  EXPECT_EQ(written, 3);
  // Aggregated repeats count too.
  EXPECT_EQ(c.observe(binding(), EventType::kWarning, "r", "m0", kT0 + seconds(10)).action, Action::kDrop);
  // Another object has its own allowance.
  EXPECT_EQ(c.observe(binding("db"), EventType::kWarning, "r", "m", kT0 + seconds(10)).action, Action::kCreate);
  // A minute after the first, room again.
  EXPECT_EQ(c.observe(binding(), EventType::kWarning, "r", "m0", kT0 + seconds(60)).action, Action::kAggregate);
}

TEST(EventCorrelator, ForgetMakesTheNextRepeatACreate) {
  EventCorrelator c;
  auto first = c.observe(binding(), EventType::kNormal, "r", "m", kT0);
  c.forget(first.key);
  auto again = c.observe(binding(), EventType::kNormal, "r", "m", kT0 + seconds(1));
  EXPECT_EQ(again.action, Action::kCreate);
  EXPECT_EQ(again.count, 1);
}

TEST(EventCorrelator, MemoryIsBounded) {
  EventCorrelator c({.max_tracked = 16});
  for (int i = 0; i < 200; ++i) {
    std::string name = std::to_string(i);
    (void)c.observe(binding(name), EventType::kNormal, "r", "m", kT0 + seconds(i));
  }
  EXPECT_LE(c.tracked(), 2u * 16 + 2);
}

TEST(MakeEvent, ShapeOfAClientGoEvent) {
  EventCorrelator c;
  auto d = c.observe(binding(), EventType::kWarning, "binding apply error", "why", kT0);
  EventRecorderOptions options{.instance = "podid-controller-7d9f-abc"};
  auto e = make_event(binding(), EventType::kWarning, "binding apply error", "why", d, kT0 + seconds(5), options);
  EXPECT_EQ(e["apiVersion"], "v1");
  EXPECT_EQ(e["kind"], "Event");
  EXPECT_EQ(e["metadata"]["name"], d.name);
  EXPECT_EQ(e["metadata"]["namespace"], "team-a");
  EXPECT_EQ(e["involvedObject"], (nlohmann::json{{"kind", "AzureIdentityBinding"},
                                                  {"namespace", "team-a"},
                                                  {"name", "web-binding"},
                                                  {"uid", "uid-web-binding"},
                                                  {"apiVersion", "aadpodidentity.k8s.io/v1"},
                                                  {"resourceVersion", "41"}}));
  EXPECT_EQ(e["reason"], "binding apply error");
  EXPECT_EQ(e["message"], "why");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["source"]["component"], "podid-controller");
  EXPECT_EQ(e["source"]["host"], "podid-controller-7d9f-abc");
  EXPECT_EQ(e["reportingComponent"], "podid-controller");
  EXPECT_EQ(e["reportingInstance"], "podid-controller-7d9f-abc");
  EXPECT_EQ(e["firstTimestamp"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(e["lastTimestamp"], "2024-01-01T00:00:05Z");
  EXPECT_EQ(e["count"], 1);
  // A cluster-scoped object's events go to "default", as client-go puts them.
  ObjectRef node{"v1", "Node", "", "node-1", "u", ""};
  EXPECT_EQ(make_event(node, EventType::kNormal, "r", "m", d, kT0, options)["metadata"]["namespace"], "default");
  EXPECT_FALSE(make_event(node, EventType::kNormal, "r", "m", d, kT0, options)["involvedObject"].contains("namespace"));
}

TEST(ObjectRefFrom, ReadsApiVersionKindAndMetadata) {
  nlohmann::json obj = {{"apiVersion", "aadpodidentity.k8s.io/v1"},
                        {"kind", "AzureIdentity"},
                        {"metadata", {{"name", "id"}, {"namespace", "ns"}, {"uid", "u1"}, {"resourceVersion", "7"}}}};
  auto ref = object_ref(obj);
  EXPECT_EQ(ref.api_version, "aadpodidentity.k8s.io/v1");
  EXPECT_EQ(ref.kind, "AzureIdentity");
  EXPECT_EQ(ref.ns, "ns");
  EXPECT_EQ(ref.name, "id");
  EXPECT_EQ(ref.uid, "u1");
  EXPECT_EQ(ref.resource_version, "7");
  EXPECT_EQ(object_ref(nlohmann::json("not an object")).name, "");
}

}  // namespace
}  // namespace podid::controller::kube
