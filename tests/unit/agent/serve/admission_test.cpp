// SPDX-License-Identifier: Apache-2.0
//
// ConnectionAdmission without sockets: a fake kernel table holds records per peer port, and each decision is
// read off the Admission it returns (and the handlers run on an io_context).
#include "agent/serve/admission.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "run_until.h"
#include "tests/unit/agent/sockaddr_fixture.h"

namespace podid::agent {
namespace {

using podid::testing::v4;

using namespace std::chrono_literals;

// The kernel's table: a record for each peer port the test "redirected".
class RecordsByPeerPort final : public ConnTable {
 public:
  std::map<uint16_t, podid_conn_ident> records;

  Result<std::optional<podid_conn_ident>> take(const podid_conn_key& key) override {
    uint16_t port = ntohs(key.sport);
    auto it = records.find(port);
    if (it == records.end()) return {std::nullopt};
    auto ident = it->second;
    records.erase(it);
    return {ident};
  }
};

class FixedClock final : public MonotonicClock {
 public:
  uint64_t now_ns() const override { return 5'000'000'000; }
};

http::Request get(const std::string& target) {
  http::Request req{boost::beast::http::verb::get, target, 11};
  req.set(boost::beast::http::field::host, "169.254.169.254");
  return req;
}

struct AdmissionTest : ::testing::Test {
  boost::asio::io_context io;
  RecordsByPeerPort table;
  FixedClock clock;
  Attributor attributor{table, clock, 5000ms};
  std::map<std::string, int> counted;
  int resolutions = 0;
  std::map<uint64_t, std::string> pods = {{100, "pod-a"}, {200, "pod-b"}};
  std::vector<Caller> imds_calls;
  bool with_imds = true;
  const sockaddr_storage agent = v4("169.254.32.1", 2579);

  std::unique_ptr<ConnectionAdmission> make(uint32_t per_pod = 2) {
    AdmissionDeps deps{
        .attributor = attributor,
        .counters = {.attributed = [this] { ++counted["attributed"]; },
                     .refused = [this](std::string_view o) { ++counted[std::string(o)]; },
                     .pod_over_cap = [this] { ++counted["pod_over_cap"]; }},
        .cgroup_path_of = [](uint64_t) { return std::optional<std::string>("/kubepods.slice/x"); },
        .pod_uid_of =
            [this](const podid_caller& k) {
              ++resolutions;
              auto it = pods.find(k.cgroup_id);
              return it == pods.end() ? std::string() : it->second;
            },
    };
    if (with_imds) {
      deps.imds = [this](const http::Request& req, const Caller& caller) -> boost::asio::awaitable<http::Answer> {
        imds_calls.push_back(caller);
        co_return http::Answer{http::json_response(req, http::Status::ok, R"({"access_token":"t"})")};
      };
    }
    return std::make_unique<ConnectionAdmission>(std::move(deps), per_pod);
  }

  // A connection the kernel redirected: a record under its peer port, from cgroup `cgroup`.
  sockaddr_storage redirected(uint16_t port, uint64_t cgroup, const char* addr = "10.244.1.5") {
    podid_conn_ident ident{};
    ident.version = PODID_ABI_VERSION;
    ident.created_ns = 4'999'000'000;
    ident.caller.cgroup_id = cgroup;
    table.records[port] = ident;
    return v4(addr, port);
  }

  http::Response run(const http::ReplayingHandler& handler, const std::string& target) {
    return testing::run_task(io, handler(get(target))).response;
  }
};

TEST_F(AdmissionTest, ConnectionWithoutARecordIsAnsweredAtOnceWith403) {
  auto admission = make();
  auto decision = admission->admit(v4("10.244.1.5", 40000), agent);
  auto* answer = std::get_if<http::AnswerAndClose>(&decision);
  ASSERT_NE(answer, nullptr) << "a record-less connection must be answered without reading it";
  EXPECT_EQ(answer->response.result(), http::Status::forbidden);
  EXPECT_EQ(nlohmann::json::parse(answer->response.body())["reason"], "no_kernel_record");
  EXPECT_FALSE(answer->response.keep_alive());
  EXPECT_EQ(counted["no_kernel_record"], 1);
  EXPECT_EQ(resolutions, 0);
}

TEST_F(AdmissionTest, ASourceFloodingRecordlessConnectionsIsCappedThenDropped) {
  auto admission = make();
  std::vector<http::Admission> held;
  for (uint32_t i = 0; i < kMaxRefusedPerSource; ++i) {
    held.push_back(admission->admit(v4("10.244.1.66", 40000 + i), agent));
    ASSERT_TRUE(std::holds_alternative<http::AnswerAndClose>(held.back())) << i;
  }
  EXPECT_TRUE(std::holds_alternative<http::Drop>(admission->admit(v4("10.244.1.66", 41000), agent)));
  EXPECT_EQ(counted["source_over_cap"], 1);
  // Another source is not affected.
  EXPECT_TRUE(std::holds_alternative<http::AnswerAndClose>(admission->admit(v4("10.244.1.67", 41001), agent)));
  // Once the answers are written (their holds released), the source gets answers again.
  held.clear();
  EXPECT_EQ(admission->refused_slots().held("10.244.1.66"), 0u);
  EXPECT_TRUE(std::holds_alternative<http::AnswerAndClose>(admission->admit(v4("10.244.1.66", 41002), agent)));
}

TEST_F(AdmissionTest, PodIsResolvedOnceAndItsRequestsReachTheImdsService) {
  auto admission = make();
  auto decision = admission->admit(redirected(40100, 100), agent);
  auto* handler = std::get_if<http::ReplayingHandler>(&decision);
  ASSERT_NE(handler, nullptr);
  EXPECT_EQ(run(*handler, "/metadata/identity/oauth2/token?x").result(), http::Status::ok);
  EXPECT_EQ(run(*handler, "/metadata/identity/oauth2/token?y").result(), http::Status::ok);
  ASSERT_EQ(imds_calls.size(), 2u);
  EXPECT_EQ(imds_calls[0].pod_uid, "pod-a");
  EXPECT_EQ(imds_calls[0].cgroup_id(), 100u);
  EXPECT_EQ(imds_calls[0].peer_ip, "10.244.1.5");
  EXPECT_EQ(resolutions, 1) << "the pod is resolved at accept, once per connection";
  EXPECT_EQ(counted["attributed"], 1);
}

TEST_F(AdmissionTest, WhoamiIsAnsweredByTheAgentItself) {
  auto admission = make();
  auto decision = admission->admit(redirected(40200, 100), agent);
  auto res = run(std::get<http::ReplayingHandler>(decision), "/podid/v1/whoami");
  EXPECT_EQ(res.result(), http::Status::ok);
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["cgroup_id"], 100);
  EXPECT_EQ(body["pod_uid"], "pod-a");
  EXPECT_TRUE(imds_calls.empty());
}

TEST_F(AdmissionTest, APodOverItsCapIsAnswered429AtOnceAndOthersAreNot) {
  auto admission = make(/*per_pod=*/2);
  auto first = admission->admit(redirected(40300, 100), agent);
  auto second = admission->admit(redirected(40301, 100), agent);
  ASSERT_TRUE(std::holds_alternative<http::ReplayingHandler>(first));
  ASSERT_TRUE(std::holds_alternative<http::ReplayingHandler>(second));
  auto third = admission->admit(redirected(40302, 100), agent);
  auto* answer = std::get_if<http::AnswerAndClose>(&third);
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(answer->response.result(), http::Status::too_many_requests);
  EXPECT_EQ(answer->response[boost::beast::http::field::retry_after], "1");
  EXPECT_EQ(counted["pod_over_cap"], 1);
  // Another pod is unaffected.
  EXPECT_TRUE(std::holds_alternative<http::ReplayingHandler>(admission->admit(redirected(40303, 200), agent)));
  // A connection that closes (its handler destroyed) gives its slot back.
  first = http::Drop{};
  EXPECT_EQ(admission->pod_slots().held("pod-a"), 1u);
  EXPECT_TRUE(std::holds_alternative<http::ReplayingHandler>(admission->admit(redirected(40304, 100), agent)));
}

TEST_F(AdmissionTest, CgroupOfNoKnownPodIsServedByTheImdsServiceWithoutASlot) {
  auto admission = make(/*per_pod=*/1);
  for (uint16_t port : {40400, 40401, 40402}) {
    auto decision = admission->admit(redirected(port, 999), agent);
    auto* handler = std::get_if<http::ReplayingHandler>(&decision);
    ASSERT_NE(handler, nullptr);
    run(*handler, "/metadata/identity/oauth2/token");
  }
  ASSERT_EQ(imds_calls.size(), 3u);
  EXPECT_TRUE(imds_calls[0].pod_uid.empty());
  EXPECT_EQ(admission->pod_slots().keys(), 0u);
}

TEST_F(AdmissionTest, WithoutKubernetesOnlyWhoamiIsServed) {
  with_imds = false;
  auto admission = make();
  auto decision = admission->admit(redirected(40500, 100), agent);
  EXPECT_EQ(run(std::get<http::ReplayingHandler>(decision), "/metadata/identity/oauth2/token").result(),
            http::Status::not_found);
  EXPECT_EQ(run(std::get<http::ReplayingHandler>(decision), "/podid/v1/whoami").result(), http::Status::ok);
}

TEST(ConnectionSlots, CapCountsAndReleases) {
  ConnectionSlots slots(2);
  auto a = slots.acquire("k");
  auto b = slots.acquire("k");
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(slots.acquire("k"), nullptr);
  EXPECT_EQ(slots.held("k"), 2u);
  auto copy = a;  // copies share one slot
  a.reset();
  EXPECT_EQ(slots.held("k"), 2u);
  copy.reset();
  EXPECT_EQ(slots.held("k"), 1u);
  b.reset();
  EXPECT_EQ(slots.keys(), 0u);
  ConnectionSlots none(0);
  EXPECT_EQ(none.acquire("k"), nullptr);
  EXPECT_EQ(none.keys(), 0u);
}

}  // namespace
}  // namespace podid::agent
