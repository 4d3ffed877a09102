// SPDX-License-Identifier: Apache-2.0
//
// The writers against the Kubernetes API stand-in (a child process on 127.0.0.1, port chosen at run time):
// what the API server ends up holding, and how many writes it took to get there.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include "controller/kube/assigned_identity_writer.h"
#include "controller/kube/condition_writer.h"
#include "controller/kube/event_recorder.h"
#include "controller/kube/kube_errors.h"
#include "controller/kube/ledger_store.h"
#include "controller/kube/metered_api.h"
#include "kube_standin.h"
#include "podid/http/client.h"

#include <map>
#include <optional>

namespace podid::controller::kube {
namespace {

namespace asio = boost::asio;
using bhttp_verb = boost::beast::http::verb;
using nlohmann::json;
using podid::testing::KubeStandIn;

constexpr char kNs[] = "podid-system";

arm::ResourceId vmss(const std::string& name) {
  return arm::parse_resource_id("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/"
                                "virtualMachineScaleSets/" + name)
      .value();
}
std::string uami(const std::string& name) {
  return "/subscriptions/sub/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name;
}

// run_task needs a value; record() has none.
asio::awaitable<bool> finished(asio::awaitable<void> task) {
  co_await std::move(task);
  co_return true;
}

asio::awaitable<void> store_into(ConfigMapLedger& ledger, arm::ResourceId compute, std::vector<std::string> ids,
                                 std::optional<Status>& out) {
  out = co_await ledger.store(compute, std::move(ids));
}

class KubeWritersStandIn : public ::testing::Test {
 protected:
  void SetUp() override {
    standin_ = std::make_unique<KubeStandIn>();
    api_ = std::make_unique<k8s::ApiClient>(io_.get_executor(), standin_->config(), "podid-controller/test");
    metered_ = std::make_unique<MeteredApi>(*api_, registry_);
    for (auto [kind, plural] : {std::pair{"AzureIdentity", "azureidentities"},
                                std::pair{"AzureIdentityBinding", "azureidentitybindings"},
                                std::pair{"AzureAssignedIdentity", "azureassignedidentities"}}) {
      auto res = raw(bhttp_verb::post, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                     podid::testing::aadpodidentity_crd(kind, plural));
      ASSERT_EQ(res.status, 201u) << res.body.dump();
    }
    for (const char* name : {kNs, "team-a"}) {
      auto ns = raw(bhttp_verb::post, "/api/v1/namespaces", json{{"metadata", {{"name", name}}}});
      ASSERT_EQ(ns.status, 201u) << ns.body.dump();
    }
  }

  template <class T>
  T run(asio::awaitable<T> task) {
    return podid::testing::run_task(io_, std::move(task), std::chrono::seconds(30));
  }
  void run(asio::awaitable<void> task) { run(finished(std::move(task))); }
  // A request outside the code under test (set-up and inspection); fails the test on a transport error.
  k8s::ApiResponse raw(bhttp_verb verb, const std::string& path, json body = nullptr,
                       const std::string& content_type = "application/json") {
    auto res = run(api_->request(verb, path, std::move(body), content_type));
    if (!res) throw std::runtime_error(res.error().message());
    return std::move(res.value());
  }
  double requests(const std::string& verb, const std::string& resource, const std::string& code) {
    return prometheus::BuildCounter()
        .Name("podid_controller_kube_requests_total")
        .Register(registry_)
        .Add({{"verb", verb}, {"resource", resource}, {"code", code}})
        .Value();
  }
  std::string aai_path(const std::string& name) {
    return "/apis/aadpodidentity.k8s.io/v1/namespaces/default/azureassignedidentities/" + name;
  }

  asio::io_context io_;
  prometheus::Registry registry_;
  std::unique_ptr<KubeStandIn> standin_;
  std::unique_ptr<k8s::ApiClient> api_;
  std::unique_ptr<MeteredApi> metered_;
};

// ---- ledger ------------------------------------------------------------------------------------------------

TEST_F(KubeWritersStandIn, LedgerCreateUpdateNoOpAndEmpty) {
  ConfigMapLedger ledger(*metered_, kNs);
  auto compute = vmss("pool-a");
  auto empty = run(ledger.load(compute));
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_TRUE(empty->empty());

  // An empty record for a resource that has none writes nothing.
  ASSERT_TRUE(run(ledger.store(compute, {})).ok());
  EXPECT_EQ(requests("create", "configmaps", "201"), 0);

  ASSERT_TRUE(run(ledger.store(compute, {uami("b"), uami("a"), uami("A")})).ok());
  EXPECT_EQ(requests("create", "configmaps", "201"), 1);
  auto loaded = run(ledger.load(compute));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded.value(), (std::vector<std::string>{uami("a"), uami("b")}));

  auto cm = raw(bhttp_verb::get, "/api/v1/namespaces/podid-system/configmaps/" + ledger_name(compute));
  ASSERT_EQ(cm.status, 200u);
  EXPECT_EQ(cm.body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "podid-controller");
  EXPECT_EQ(cm.body["metadata"]["annotations"]["podid.io/resource-id"], compute.id());
  const std::string rv = cm.body["metadata"]["resourceVersion"];

  // The same set again (in another order and case): no write at all.
  ASSERT_TRUE(run(ledger.store(compute, {uami("B"), uami("a")})).ok());
  EXPECT_EQ(requests("update", "configmaps", "200"), 0);
  EXPECT_EQ(raw(bhttp_verb::get, "/api/v1/namespaces/podid-system/configmaps/" + ledger_name(compute))
                .body["metadata"]["resourceVersion"],
            rv);

  ASSERT_TRUE(run(ledger.store(compute, {uami("c")})).ok());
  EXPECT_EQ(requests("update", "configmaps", "200"), 1);
  EXPECT_EQ(run(ledger.load(compute)).value(), (std::vector<std::string>{uami("c")}));

  // Emptied: the ConfigMap stays, holding [].
  ASSERT_TRUE(run(ledger.store(compute, {})).ok());
  cm = raw(bhttp_verb::get, "/api/v1/namespaces/podid-system/configmaps/" + ledger_name(compute));
  ASSERT_EQ(cm.status, 200u);
  EXPECT_EQ(cm.body["data"]["identities"], "[]");
  EXPECT_TRUE(run(ledger.load(compute)).value().empty());
}

TEST_F(KubeWritersStandIn, LedgerConcurrentWritersRetryOnConflict) {
  auto compute = vmss("pool-race");
  ConfigMapLedger seed(*metered_, kNs);
  ASSERT_TRUE(run(seed.store(compute, {uami("seed")})).ok());

  // Four writers read the same resourceVersion; all but one PUT get 409, re-read and try again.
  constexpr int kWriters = 4;
  std::vector<std::unique_ptr<ConfigMapLedger>> writers;
  std::vector<std::optional<Status>> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(std::make_unique<ConfigMapLedger>(*metered_, kNs));
    std::vector<std::string> ids{uami("seed"), uami(std::string("w") + std::to_string(i))};
    asio::co_spawn(io_, store_into(*writers[i], compute, std::move(ids), results[i]), asio::detached);
  }
  ASSERT_TRUE(podid::testing::run_until(
      io_, [&] { return std::all_of(results.begin(), results.end(), [](auto& r) { return r.has_value(); }); },
      std::chrono::seconds(30)));
  for (int i = 0; i < kWriters; ++i) EXPECT_TRUE(results[i]->ok()) << i << ": " << results[i]->error().message();
  EXPECT_GE(requests("update", "configmaps", "409"), 1) << "the writers did not race (no conflict seen)";
  EXPECT_EQ(requests("update", "configmaps", "200"), kWriters);  // every writer's set landed once, in turn
  auto final_ids = run(seed.load(compute));
  ASSERT_TRUE(final_ids.ok());
  ASSERT_EQ(final_ids->size(), 2u);
  EXPECT_EQ(final_ids->at(0), uami("seed"));
}

TEST_F(KubeWritersStandIn, LedgerCollisionIsRefusedAndNothingWritten) {
  auto mine = vmss("pool-a");
  // A ConfigMap under pool-a's name that records another scale set (what a hash collision would look like).
  json impostor = ledger_config_map(kNs, vmss("pool-z"), {uami("theirs")});
  impostor["metadata"]["name"] = ledger_name(mine);
  ASSERT_EQ(raw(bhttp_verb::post, "/api/v1/namespaces/podid-system/configmaps", impostor).status, 201u);

  ConfigMapLedger ledger(*metered_, kNs);
  auto loaded = run(ledger.load(mine));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, KubeError::kNameCollision);
  auto stored = run(ledger.store(mine, {uami("mine")}));
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.error().code, KubeError::kNameCollision);
  auto cm = raw(bhttp_verb::get, "/api/v1/namespaces/podid-system/configmaps/" + ledger_name(mine));
  EXPECT_EQ(cm.body["data"]["identities"], json(std::vector<std::string>{uami("theirs")}).dump());
}

TEST_F(KubeWritersStandIn, ListLedgersFindsEveryRecordAndSkipsBadOnes) {
  ConfigMapLedger ledger(*metered_, kNs);
  ASSERT_TRUE(run(ledger.store(vmss("pool-b"), {uami("x")})).ok());
  ASSERT_TRUE(run(ledger.store(vmss("pool-a"), {uami("y"), uami("z")})).ok());
  ASSERT_TRUE(run(ledger.store(vmss("pool-c"), {uami("x")})).ok());
  ASSERT_TRUE(run(ledger.store(vmss("pool-c"), {})).ok());  // emptied: still listed
  // Labelled as ours but not a readable record: skipped, not fatal.
  json bad = ledger_config_map(kNs, vmss("pool-d"), {uami("x")});
  bad["metadata"]["annotations"]["podid.io/resource-id"] = "not an ARM id";
  ASSERT_EQ(raw(bhttp_verb::post, "/api/v1/namespaces/podid-system/configmaps", bad).status, 201u);
  // Someone else's ConfigMap in the namespace: not selected.
  json other = {{"metadata", {{"name", "unrelated"}}}, {"data", {{"k", "v"}}}};
  ASSERT_EQ(raw(bhttp_verb::post, "/api/v1/namespaces/podid-system/configmaps", other).status, 201u);

  auto listed = run(ledger.list_ledgers());
  ASSERT_TRUE(listed.ok()) << listed.error().message();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ(listed->at(0).compute, vmss("pool-a"));
  EXPECT_EQ(listed->at(0).ids, (std::vector<std::string>{uami("y"), uami("z")}));
  EXPECT_EQ(listed->at(1).compute, vmss("pool-b"));
  EXPECT_EQ(listed->at(2).compute, vmss("pool-c"));
  EXPECT_TRUE(listed->at(2).ids.empty());
}

// ---- AzureAssignedIdentity -----------------------------------------------------------------------------------

json aai(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"nodename", "node-1"}}}}},
          {"spec",
           {{"pod", "web"},
            {"podNamespace", "team-a"},
            {"nodename", "node-1"},
            {"azureIdentityRef", {{"metadata", {{"name", "id"}, {"namespace", "team-a"}}}}},
            {"azureBindingRef", {{"metadata", {{"name", "bind"}, {"namespace", "team-a"}}}}}}}};
}

TEST_F(KubeWritersStandIn, AssignedIdentityLifecycle) {
  AssignedIdentityWriter writer(*metered_);
  auto created = run(writer.create(aai("web-team-a-id")));
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(created->outcome, AssignedIdentityWrite::Outcome::kWritten);
  auto got = raw(bhttp_verb::get, aai_path("web-team-a-id"));
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.body["status"]["status"], "Created");
  EXPECT_EQ(got.body["status"]["availableReplicas"], 1);
  EXPECT_EQ(got.body["metadata"]["finalizers"], json::array({kAssignedIdentityFinalizer}));

  auto again = run(writer.create(aai("web-team-a-id")));
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->outcome, AssignedIdentityWrite::Outcome::kAlreadyExists);
  EXPECT_EQ(again->object["metadata"]["uid"], got.body["metadata"]["uid"]);

  ASSERT_TRUE(run(writer.set_state("default", "web-team-a-id", "Assigned")).ok());
  got = raw(bhttp_verb::get, aai_path("web-team-a-id"));
  EXPECT_EQ(got.body["status"]["status"], "Assigned");
  EXPECT_EQ(got.body["spec"]["pod"], "web");  // a merge patch of status leaves the spec alone

  // replace: a stale resourceVersion is a conflict to retry from the cache; a fresh one writes.
  json stale = created->object;
  stale["spec"]["pod"] = "web-2";
  auto conflict = run(writer.replace(stale));
  ASSERT_TRUE(conflict.ok()) << conflict.error().message();
  EXPECT_EQ(conflict->outcome, AssignedIdentityWrite::Outcome::kConflict);
  json fresh = got.body;
  fresh["spec"]["pod"] = "web-2";
  fresh["metadata"].erase("finalizers");  // the writer puts it back
  auto replaced = run(writer.replace(fresh));
  ASSERT_TRUE(replaced.ok()) << replaced.error().message();
  EXPECT_EQ(replaced->outcome, AssignedIdentityWrite::Outcome::kWritten);
  got = raw(bhttp_verb::get, aai_path("web-team-a-id"));
  EXPECT_EQ(got.body["spec"]["pod"], "web-2");
  EXPECT_EQ(got.body["metadata"]["finalizers"], json::array({kAssignedIdentityFinalizer}));
  json no_rv = fresh;
  no_rv["metadata"].erase("resourceVersion");
  auto refused = run(writer.replace(no_rv));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, KubeError::kMalformedObject);

  // remove: Unassigned, DELETE, finalizer dropped: gone.
  ASSERT_TRUE(run(writer.remove("default", "web-team-a-id")).ok());
  EXPECT_EQ(raw(bhttp_verb::get, aai_path("web-team-a-id")).status, 404u);
  EXPECT_EQ(requests("patch", "azureassignedidentities", "200"), 3);  // Assigned, Unassigned, finalizer
  EXPECT_EQ(requests("delete", "azureassignedidentities", "200"), 1);
  // Already gone: success, and nothing but the one failed status patch sent.
  ASSERT_TRUE(run(writer.remove("default", "web-team-a-id")).ok());
  EXPECT_EQ(requests("patch", "azureassignedidentities", "404"), 1);
  EXPECT_EQ(requests("delete", "azureassignedidentities", "200"), 1);
  // set_state on a missing object is NotFound for the caller.
  auto missing = run(writer.set_state("default", "web-team-a-id", "Assigned"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, KubeError::kNotFound);
}

TEST_F(KubeWritersStandIn, RemoveDropsOnlyOurFinalizer) {
  AssignedIdentityWriter writer(*metered_);
  json object = aai("held");
  object["metadata"]["finalizers"] = json::array({"backup.example.com/protect"});
  ASSERT_TRUE(run(writer.create(object)).ok());
  ASSERT_TRUE(run(writer.remove("default", "held")).ok());
  auto got = raw(bhttp_verb::get, aai_path("held"));
  ASSERT_EQ(got.status, 200u) << "the other finalizer keeps the object";
  EXPECT_EQ(got.body["metadata"]["finalizers"], json::array({"backup.example.com/protect"}));
  EXPECT_TRUE(got.body["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(got.body["status"]["status"], "Unassigned");
  // Once the other finalizer goes, so does the object.
  auto patched = raw(bhttp_verb::patch, aai_path("held"), json{{"metadata", {{"finalizers", nullptr}}}},
                     std::string(kMergePatch));
  ASSERT_TRUE(patched.ok()) << patched.body.dump();
  EXPECT_EQ(raw(bhttp_verb::get, aai_path("held")).status, 404u);
}

TEST_F(KubeWritersStandIn, RemoveFindsOurFinalizerAfterTheListChanged) {
  AssignedIdentityWriter writer(*metered_);
  json object = aai("shifting");
  object["metadata"]["finalizers"] = json::array({"a.example.com/one", "b.example.com/two"});
  ASSERT_TRUE(run(writer.create(object)).ok());
  // Marked for deletion already; ours is third in the list.
  ASSERT_TRUE(raw(bhttp_verb::delete_, aai_path("shifting")).ok());
  ASSERT_TRUE(run(writer.remove("default", "shifting")).ok());
  auto got = raw(bhttp_verb::get, aai_path("shifting"));
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.body["metadata"]["finalizers"], json::array({"a.example.com/one", "b.example.com/two"}));
}

// ---- events --------------------------------------------------------------------------------------------------

TEST_F(KubeWritersStandIn, RepeatedEventIsAggregatedIntoCountTwo) {
  EventRecorder recorder(*metered_, registry_, {.instance = "podid-controller-0"});
  ObjectRef binding{"aadpodidentity.k8s.io/v1", "AzureIdentityBinding", "team-a", "web-binding", "uid-1", "5"};
  run(recorder.record(binding, EventType::kWarning, "binding apply error", "role missing"));
  run(recorder.record(binding, EventType::kWarning, "binding apply error", "role missing"));
  run(recorder.record(binding, EventType::kNormal, "binding applied", "ok"));

  auto list = raw(bhttp_verb::get,
                  "/api/v1/namespaces/team-a/events?fieldSelector=involvedObject.name%3Dweb-binding");
  ASSERT_EQ(list.status, 200u) << list.body.dump();
  ASSERT_EQ(list.body["items"].size(), 2u) << list.body.dump();
  std::map<std::string, json> by_reason;
  for (const auto& e : list.body["items"]) by_reason[e["reason"]] = e;
  const json& warning = by_reason.at("binding apply error");
  EXPECT_EQ(warning["count"], 2);
  EXPECT_EQ(warning["type"], "Warning");
  EXPECT_EQ(warning["involvedObject"]["uid"], "uid-1");
  EXPECT_EQ(warning["source"]["component"], "podid-controller");
  EXPECT_EQ(warning["reportingComponent"], "podid-controller");
  EXPECT_EQ(by_reason.at("binding applied")["count"], 1);
  EXPECT_EQ(requests("create", "events", "201"), 2);
  EXPECT_EQ(requests("patch", "events", "200"), 1);
}

TEST_F(KubeWritersStandIn, ExpiredEventIsCreatedAgainWithTheRunningCount) {
  EventRecorder recorder(*metered_, registry_);
  ObjectRef identity{"aadpodidentity.k8s.io/v1", "AzureIdentity", "team-a", "id", "uid-2", "5"};
  run(recorder.record(identity, EventType::kWarning, "r", "m"));
  auto list = raw(bhttp_verb::get, "/api/v1/namespaces/team-a/events");
  ASSERT_EQ(list.body["items"].size(), 1u);
  std::string name = list.body["items"][0]["metadata"]["name"];
  ASSERT_TRUE(raw(bhttp_verb::delete_, "/api/v1/namespaces/team-a/events/" + name).ok());  // the event TTL
  run(recorder.record(identity, EventType::kWarning, "r", "m"));
  auto got = raw(bhttp_verb::get, "/api/v1/namespaces/team-a/events/" + name);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.body["count"], 2);
}

TEST_F(KubeWritersStandIn, SpamFilterCapsWrites) {
  EventRecorder recorder(*metered_, registry_, {.correlator = {.max_per_object_per_minute = 3}});
  ObjectRef identity{"aadpodidentity.k8s.io/v1", "AzureIdentity", "team-a", "noisy", "uid-3", "5"};
  for (int i = 0; i < 6; ++i) run(recorder.record(identity, EventType::kWarning, "r", std::string("m") + std::to_string(i)));
  auto list = raw(bhttp_verb::get, "/api/v1/namespaces/team-a/events?fieldSelector=involvedObject.name%3Dnoisy");
  EXPECT_EQ(list.body["items"].size(), 3u);
  EXPECT_EQ(prometheus::BuildCounter()
                .Name("podid_controller_events_total")
                .Register(registry_)
                .Add({{"type", "Warning"}, {"outcome", "spam_filtered"}})
                .Value(),
            3);
}

// ---- conditions ----------------------------------------------------------------------------------------------

TEST_F(KubeWritersStandIn, ConditionWrittenOnceThenNotRewritten) {
  json identity = {{"apiVersion", "aadpodidentity.k8s.io/v1"},
                   {"kind", "AzureIdentity"},
                   {"metadata", {{"name", "id"}, {"namespace", "team-a"}}},
                   {"spec", {{"type", 0}, {"clientID", "c"}, {"resourceID", uami("id")}}}};
  const std::string path = "/apis/aadpodidentity.k8s.io/v1/namespaces/team-a/azureidentities/id";
  ASSERT_EQ(raw(bhttp_verb::post, "/apis/aadpodidentity.k8s.io/v1/namespaces/team-a/azureidentities", identity)
                .status,
            201u);
  ConditionWriter writer(*metered_);
  Condition not_ready{"Ready", false, "MissingRoleAssignment", "grant Managed Identity Operator"};

  auto cached = raw(bhttp_verb::get, path).body;
  auto wrote = run(writer.set(ConditionTarget::kAzureIdentity, cached, not_ready));
  ASSERT_TRUE(wrote.ok()) << wrote.error().message();
  EXPECT_TRUE(wrote.value());
  auto after = raw(bhttp_verb::get, path).body;
  ASSERT_EQ(after["status"]["conditions"].size(), 1u);
  EXPECT_EQ(after["status"]["conditions"][0]["reason"], "MissingRoleAssignment");
  EXPECT_EQ(after["spec"]["clientID"], "c");

  // The cache now holds `after`: the same condition again writes nothing.
  auto again = run(writer.set(ConditionTarget::kAzureIdentity, after, not_ready));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value());
  EXPECT_EQ(raw(bhttp_verb::get, path).body["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
  EXPECT_EQ(requests("patch", "azureidentities", "200"), 1);

  // A stale cache copy with a different condition: a conflict, not a blind overwrite.
  Condition ready{"Ready", true, "Assigned", "on pool-a"};
  auto stale = run(writer.set(ConditionTarget::kAzureIdentity, cached, ready));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, KubeError::kConflict);
  EXPECT_EQ(raw(bhttp_verb::get, path).body["status"]["conditions"][0]["status"], "False");
}

// ---- failures never reach the caller of record() -------------------------------------------------------------

TEST(EventRecorderFailure, AnUnreachableServerIsCountedNotThrown) {
  asio::io_context io;
  prometheus::Registry registry;
  k8s::ClusterConfig config;
  // A port nothing listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  config.server = http::Url::parse("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))).value();
  k8s::ApiClient api(io.get_executor(), config, "t");
  MeteredApi metered(api, registry);
  EventRecorder recorder(metered, registry);
  ObjectRef ref{"v1", "Pod", "ns", "p", "u", "1"};
  EXPECT_TRUE(podid::testing::run_task(io, finished(recorder.record(ref, EventType::kWarning, "r", "m"))));
  EXPECT_EQ(prometheus::BuildCounter()
                .Name("podid_controller_events_total")
                .Register(registry)
                .Add({{"type", "Warning"}, {"outcome", "failed"}})
                .Value(),
            1);
  EXPECT_EQ(prometheus::BuildCounter()
                .Name("podid_controller_kube_requests_total")
                .Register(registry)
                .Add({{"verb", "create"}, {"resource", "events"}, {"code", "error"}})
                .Value(),
            1);
}

}  // namespace
}  // namespace podid::controller::kube
