// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_attributor.h"

#include "tests/unit/agent/sockaddr_fixture.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>

using namespace podid::agent;
using namespace std::chrono_literals;

namespace {

using podid::testing::v4;
using podid::testing::v6;

class FakeTable : public ConnTable {
 public:
  std::map<std::string, podid_conn_ident> entries;
  int takes = 0;
  bool fail = false;
  static std::string k(const podid_conn_key& key) { return std::string(reinterpret_cast<const char*>(&key), sizeof(key)); }
  podid::Result<std::optional<podid_conn_ident>> take(const podid_conn_key& key) override {
    ++takes;
    if (fail) return podid::os_error(EIO, "fake");
    auto it = entries.find(k(key));
    if (it == entries.end()) return {std::nullopt};
    auto v = it->second;
    entries.erase(it);
    return {v};
  }
};

class FakeClock : public MonotonicClock {
 public:
  uint64_t now = 10'000'000'000;
  uint64_t now_ns() const override { return now; }
};

struct AttributorTest : ::testing::Test {
  FakeTable table;
  FakeClock clock;
  Attributor attributor{table, clock, 5000ms};

  void publish(const sockaddr_storage& peer, const sockaddr_storage& local, uint64_t cgroup, uint64_t created) {
    podid_conn_ident ident{};
    ident.caller.cgroup_id = cgroup;
    ident.created_ns = created;
    ident.version = PODID_ABI_VERSION;
    table.entries[FakeTable::k(*conn_key_from(peer, local))] = ident;
  }
};

}  // namespace

TEST_F(AttributorTest, TakesTheRecordOnce) {
  auto peer = v4("10.244.1.2", 40000), local = v4("169.254.32.1", 2579);
  publish(peer, local, 77, clock.now - 1'000'000);
  auto first = attributor.attribute(peer, local);
  ASSERT_TRUE(std::holds_alternative<Attribution>(first));
  EXPECT_EQ(std::get<Attribution>(first).ident.caller.cgroup_id, 77u);
  EXPECT_EQ(std::get<Attribution>(first).age, 1ms);
  auto second = attributor.attribute(peer, local);
  ASSERT_TRUE(std::holds_alternative<Refusal>(second));
  EXPECT_EQ(std::get<Refusal>(second), Refusal::kNoRecord);
}

TEST_F(AttributorTest, AnotherTupleNeverMatches) {
  publish(v4("10.244.1.2", 40000), v4("169.254.32.1", 2579), 77, clock.now);
  auto r = attributor.attribute(v4("10.244.1.3", 40000), v4("169.254.32.1", 2579));
  EXPECT_EQ(std::get<Refusal>(r), Refusal::kNoRecord);
  r = attributor.attribute(v4("10.244.1.2", 40001), v4("169.254.32.1", 2579));
  EXPECT_EQ(std::get<Refusal>(r), Refusal::kNoRecord);
}

TEST_F(AttributorTest, Ipv6ListenerSeesMappedPeersUnderTheIpv4Key) {
  publish(v4("10.244.1.2", 40000), v4("169.254.32.1", 2579), 5, clock.now);
  auto r = attributor.attribute(v6("::ffff:10.244.1.2", 40000), v6("::ffff:169.254.32.1", 2579));
  ASSERT_TRUE(std::holds_alternative<Attribution>(r));
}

TEST_F(AttributorTest, StaleFutureAndForeignRecordsAreRefused) {
  auto peer = v4("10.244.1.2", 40000), local = v4("169.254.32.1", 2579);
  publish(peer, local, 1, clock.now - 5'000'000'001);
  EXPECT_EQ(std::get<Refusal>(attributor.attribute(peer, local)), Refusal::kStaleRecord);
  publish(peer, local, 1, clock.now + 1);
  EXPECT_EQ(std::get<Refusal>(attributor.attribute(peer, local)), Refusal::kStaleRecord);
  publish(peer, local, 1, clock.now);
  table.entries.begin()->second.version = PODID_ABI_VERSION + 1;
  EXPECT_EQ(std::get<Refusal>(attributor.attribute(peer, local)), Refusal::kAbiMismatch);
  EXPECT_TRUE(table.entries.empty()) << "a refused record must still be consumed";
}

TEST_F(AttributorTest, MapErrorsAndOddSocketsAreRefusals) {
  table.fail = true;
  EXPECT_EQ(std::get<Refusal>(attributor.attribute(v4("10.0.0.1", 1), v4("10.0.0.2", 2))), Refusal::kLookupFailed);
  sockaddr_storage unix_peer{};
  unix_peer.ss_family = AF_UNIX;
  EXPECT_EQ(std::get<Refusal>(attributor.attribute(unix_peer, v4("10.0.0.2", 2))), Refusal::kUnsupportedAddress);
  EXPECT_EQ(refusal_name(Refusal::kNoRecord), "no_kernel_record");
}
