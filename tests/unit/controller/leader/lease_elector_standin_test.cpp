// SPDX-License-Identifier: Apache-2.0
//
// Two LeaseElectors against the Kubernetes API stand-in (a child process on 127.0.0.1): one leads, the other
// waits; a graceful stop hands over at once; a crashed leader is replaced only after its lease expires; a
// leader that cannot renew (the API server hangs) steps down within its renew deadline.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include "controller/leader/lease_elector.h"
#include "kube_standin.h"

namespace podid::controller::leader {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using podid::testing::KubeStandIn;
using podid::testing::run_until;

constexpr auto kLease = 2000ms;  // retry every 500 ms, renew deadline 1 s

asio::awaitable<bool> finished(asio::awaitable<void> task) {
  co_await std::move(task);
  co_return true;
}

struct Replica {
  Replica(asio::io_context& io, kube::MeteredApi& api, prometheus::Registry& registry, const std::string& identity)
      : elector(io.get_executor(), api,
                LeaseElectorOptions{.ns = "kube-system", .name = "podid-controller", .identity = identity,
                                    .lease_duration = kLease},
                LeaderCallbacks{.on_started_leading = [this] { ++started; }, .on_stopped_leading = [this] { ++stopped; }},
                registry) {}
  int started = 0;
  int stopped = 0;
  LeaseElector elector;
};

class LeaseElectorStandIn : public ::testing::Test {
 protected:
  void SetUp() override {
    standin_ = std::make_unique<KubeStandIn>();
    api_ = std::make_unique<k8s::ApiClient>(io_.get_executor(), standin_->config(), "podid-controller/test");
    metered_ = std::make_unique<kube::MeteredApi>(*api_, registry_);
  }
  void TearDown() override {
    if (standin_) standin_->resume();  // a paused stand-in is killed either way; resume keeps logs sane
  }
  nlohmann::json lease() {
    auto res = podid::testing::run_task(io_, api_->get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/podid-controller"));
    if (!res) throw std::runtime_error(res.error().message());
    return res->body;
  }
  // Runs the io_context for `d` (both electors keep working meanwhile).
  void run_for(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    run_until(io_, [&] { return std::chrono::steady_clock::now() >= until; }, d + 1s);
  }
  double metric(const std::string& name) {
    for (const auto& family : registry_.Collect()) {
      if (family.name == name && !family.metric.empty()) {
        const auto& m = family.metric.front();
        return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
      }
    }
    return -1;
  }

  asio::io_context io_;
  prometheus::Registry registry_;
  std::unique_ptr<KubeStandIn> standin_;
  std::unique_ptr<k8s::ApiClient> api_;
  std::unique_ptr<kube::MeteredApi> metered_;
};

TEST_F(LeaseElectorStandIn, OneLeadsTheOtherWaitsAndAGracefulStopHandsOver) {
  Replica a(io_, *metered_, registry_, "replica-a");
  a.elector.start();
  ASSERT_TRUE(run_until(io_, [&] { return a.elector.is_leader(); }, 5s)) << "replica-a never acquired the lease";
  EXPECT_EQ(a.started, 1);
  auto held = lease();
  EXPECT_EQ(held["spec"]["holderIdentity"], "replica-a");
  EXPECT_EQ(held["spec"]["leaseDurationSeconds"], 2);
  EXPECT_EQ(held["spec"]["leaseTransitions"], 0);
  // MicroTime: RFC 3339 with six fractional digits.
  std::string renew = held["spec"]["renewTime"];
  EXPECT_EQ(renew.size(), std::string("2024-01-01T00:00:00.000000Z").size()) << renew;
  EXPECT_EQ(metric("podid_controller_is_leader"), 1);

  Replica b(io_, *metered_, registry_, "replica-b");
  b.elector.start();
  run_for(2500ms);  // longer than the lease: a renewing leader keeps it
  EXPECT_TRUE(a.elector.is_leader());
  EXPECT_FALSE(b.elector.is_leader());
  EXPECT_EQ(b.started, 0);
  EXPECT_NE(lease()["spec"]["renewTime"], renew) << "the leader did not renew";

  ASSERT_TRUE(podid::testing::run_task(io_, finished(a.elector.stop())));
  EXPECT_FALSE(a.elector.is_leader());
  EXPECT_EQ(a.stopped, 1);
  auto released = lease();
  EXPECT_TRUE(released["spec"]["holderIdentity"] == "" || released["spec"]["holderIdentity"] == "replica-b");

  auto handed = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io_, [&] { return b.elector.is_leader(); }, 3s)) << "replica-b did not take over";
  EXPECT_LT(std::chrono::steady_clock::now() - handed, 2s) << "a released lease should be taken on the next try";
  auto taken = lease();
  EXPECT_EQ(taken["spec"]["holderIdentity"], "replica-b");
  EXPECT_EQ(taken["spec"]["leaseTransitions"], 1);
  EXPECT_EQ(metric("podid_controller_leader_transitions_total"), 2);  // a once, b once
  ASSERT_TRUE(podid::testing::run_task(io_, finished(b.elector.stop())));
  EXPECT_EQ(b.stopped, 1);
}

TEST_F(LeaseElectorStandIn, ACrashedLeaderIsReplacedOnlyAfterItsLeaseExpires) {
  auto a = std::make_unique<Replica>(io_, *metered_, registry_, "replica-a");
  a->elector.start();
  ASSERT_TRUE(run_until(io_, [&] { return a->elector.is_leader(); }, 5s));
  Replica b(io_, *metered_, registry_, "replica-b");
  b.elector.start();
  run_for(700ms);
  ASSERT_FALSE(b.elector.is_leader());
  a.reset();  // gone without releasing, like a killed pod
  auto crashed = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io_, [&] { return b.elector.is_leader(); }, 8s)) << "replica-b never took over";
  // b judges expiry by its own observation: not before the lease duration since a's last renewal it saw.
  EXPECT_GE(std::chrono::steady_clock::now() - crashed, 1500ms);
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "replica-b");
  EXPECT_EQ(lease()["spec"]["leaseTransitions"], 1);
}

TEST_F(LeaseElectorStandIn, ALeaderThatCannotRenewStepsDown) {
  Replica a(io_, *metered_, registry_, "replica-a");
  a.elector.start();
  ASSERT_TRUE(run_until(io_, [&] { return a.elector.is_leader(); }, 5s));
  standin_->pause();  // accepts connections, never answers
  auto hung = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io_, [&] { return !a.elector.is_leader(); }, 4s))
      << "the leader kept leading with no renewal";
  // Within the renew deadline (1 s) of its last renewal, plus one retry period of slack.
  EXPECT_LT(std::chrono::steady_clock::now() - hung, 1600ms);
  EXPECT_EQ(a.stopped, 1);
  EXPECT_EQ(metric("podid_controller_is_leader"), 0);
  // The API server comes back: the lease is still ours by name, so we lead again without a transition.
  standin_->resume();
  ASSERT_TRUE(run_until(io_, [&] { return a.elector.is_leader(); }, 6s));
  EXPECT_EQ(a.started, 2);
  EXPECT_EQ(lease()["spec"]["leaseTransitions"], 0);
  ASSERT_TRUE(podid::testing::run_task(io_, finished(a.elector.stop())));
}

TEST_F(LeaseElectorStandIn, StopBeforeLeadingIsQuietAndTwiceIsSafe) {
  Replica a(io_, *metered_, registry_, "replica-a");
  ASSERT_TRUE(podid::testing::run_task(io_, finished(a.elector.stop())));  // never started
  a.elector.start();                                                       // refused after stop
  run_for(600ms);
  EXPECT_FALSE(a.elector.is_leader());
  EXPECT_EQ(a.started, 0);
  EXPECT_EQ(a.stopped, 0);
  ASSERT_TRUE(podid::testing::run_task(io_, finished(a.elector.stop())));
}

}  // namespace
}  // namespace podid::controller::leader
