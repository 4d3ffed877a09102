// SPDX-License-Identifier: Apache-2.0
// The kernel's decision logic (include/podid/bpf/imds_redirect_match.h), compiled here exactly as the BPF object
// compiles it.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>

#include "podid/bpf/imds_redirect_match.h"

namespace {

std::array<__u32, 4> ip6(const char* text) {
  std::array<__u32, 4> w{};
  EXPECT_EQ(inet_pton(AF_INET6, text, w.data()), 1) << text;
  return w;
}

__be32 ip4(const char* text) {
  __be32 a = 0;
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return a;
}

// The kernel's target_lookup(), with a std::map for the hash map: same candidate order, same marker rule.
struct TargetTable {
  std::map<std::string, podid_target_value> rules;
  static std::string k(const podid_target_key& key) { return std::string(reinterpret_cast<const char*>(&key), sizeof(key)); }
  void add(__u8 proto, const char* addr, uint16_t port, podid_action action) {
    podid_target_key key;
    podid_target_key_v4(&key, proto, ip4(addr), htons(port));
    rules[k(key)] = {static_cast<__u8>(action), 0, 0};
    podid_target_key marker;
    podid_target_candidate(&marker, &key, 3);
    rules.try_emplace(k(marker), podid_target_value{PODID_ACTION_ALLOW, 0, 0});
  }
  std::optional<__u8> lookup(__u32 protocol, const char* addr, uint16_t port) const {
    podid_target_key dst, key;
    podid_target_key_v4(&dst, podid_target_proto(protocol), ip4(addr), htons(port));
    podid_target_candidate(&key, &dst, 3);
    auto marker = rules.find(k(key));
    if (marker == rules.end()) return std::nullopt;
    for (int i = 0; i < 3; ++i) {
      podid_target_candidate(&key, &dst, i);
      if (auto it = rules.find(k(key)); it != rules.end()) return it->second.action;
    }
    return marker->second.action;
  }
};

TargetTable azure_defaults() {
  TargetTable t;
  t.add(PODID_PROTO_TCP, "169.254.169.254", 80, PODID_ACTION_REDIRECT);
  t.add(PODID_PROTO_ANY, "169.254.169.254", 0, PODID_ACTION_DENY);
  t.add(PODID_PROTO_TCP, "168.63.129.16", 80, PODID_ACTION_DENY);
  t.add(PODID_PROTO_TCP, "168.63.129.16", 32526, PODID_ACTION_DENY);
  return t;
}

TEST(ImdsMatch, IpDestinationsFoldTranslatedFormsToTheIpv4Key) {
  __u8 addr[16] = {};
  podid_target_key direct, key;
  podid_target_key_v4(&direct, PODID_PROTO_TCP, ip4("169.254.169.254"), htons(80));
  for (const char* form : {"::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"}) {
    ASSERT_EQ(inet_pton(AF_INET6, form, addr), 1);
    podid_target_key_ip(&key, PODID_AF_INET6, PODID_PROTO_TCP, addr, htons(80));
    EXPECT_EQ(std::memcmp(&key, &direct, sizeof(key)), 0) << form;
  }
  std::memset(addr, 0, sizeof(addr));
  __be32 v4 = ip4("169.254.169.254");
  std::memcpy(addr, &v4, 4);
  podid_target_key_ip(&key, PODID_AF_INET, 6, addr, htons(80));
  EXPECT_EQ(std::memcmp(&key, &direct, sizeof(key)), 0);
  ASSERT_EQ(inet_pton(AF_INET6, "fd00:ec2::254", addr), 1);
  podid_target_key_ip(&key, PODID_AF_INET6, PODID_PROTO_UDP, addr, htons(53));
  EXPECT_EQ(key.family, PODID_AF_INET6);
  EXPECT_EQ(key.proto, PODID_PROTO_UDP);
  EXPECT_EQ(std::memcmp(key.addr, addr, 16), 0);
  podid_target_key_ip(&key, PODID_AF_INET6, 58, addr, 0);  // ICMPv6: matches only "any protocol" rules
  EXPECT_EQ(key.proto, 0xff);
}

TEST(ImdsMatch, TheConfigListOfIpv4TargetsRulesOutOtherAddresses) {
  podid_config c{};
  EXPECT_FALSE(podid_ip4_maybe_target(&c, ip4("169.254.169.254")));  // no targets at all
  c.target_ip4[0] = ip4("169.254.169.254");
  c.target_ip4[1] = ip4("168.63.129.16");
  c.target_ip4_count = 2;
  EXPECT_TRUE(podid_ip4_maybe_target(&c, ip4("169.254.169.254")));
  EXPECT_TRUE(podid_ip4_maybe_target(&c, ip4("168.63.129.16")));
  EXPECT_FALSE(podid_ip4_maybe_target(&c, ip4("10.224.7.7")));
  c.target_ip4[2] = ip4("10.224.7.7");  // beyond the count: not listed
  EXPECT_FALSE(podid_ip4_maybe_target(&c, ip4("10.224.7.7")));
  c.target_ip4_count = PODID_TARGET_IP4_MANY;  // too many to list: every address may be one
  EXPECT_TRUE(podid_ip4_maybe_target(&c, ip4("192.0.2.1")));
}

TEST(ImdsMatch, APodsCgroupIsBelowItsQosCgroupOrKubepodsItself) {
  const __u64 burstable = 10, besteffort = 11, kubepods_child = 20, pod = 30, container = 40;
  EXPECT_EQ(podid_pod_cgroup(burstable, pod, burstable, besteffort, container), pod);
  EXPECT_EQ(podid_pod_cgroup(besteffort, pod, burstable, besteffort, container), pod);
  EXPECT_EQ(podid_pod_cgroup(kubepods_child, container, burstable, besteffort, container), kubepods_child);  // guaranteed
  EXPECT_EQ(podid_pod_cgroup(burstable, 0, burstable, besteffort, burstable), burstable);  // the QoS cgroup itself
  EXPECT_EQ(podid_pod_cgroup(0, 0, burstable, besteffort, 7), 7u);  // kubepods itself: its own "pod"
  EXPECT_EQ(podid_pod_cgroup(kubepods_child, pod, 0, 0, container), kubepods_child);  // QoS ids unknown
}

}  // namespace

TEST(ImdsMatch, V4MappedIsExactlyFfffPrefix) {
  EXPECT_TRUE(podid_is_v4_mapped(ip6("::ffff:169.254.169.254").data()));
  EXPECT_FALSE(podid_is_v4_mapped(ip6("::169.254.169.254").data()));  // v4-compatible, deprecated: not mapped
  EXPECT_FALSE(podid_is_v4_mapped(ip6("64:ff9b::a9fe:a9fe").data()));
  EXPECT_FALSE(podid_is_v4_mapped(ip6("fd00:ec2::254").data()));
  EXPECT_FALSE(podid_is_v4_mapped(ip6("::1:ffff:a9fe:a9fe").data()));
}

TEST(ImdsMatch, Nat64WellKnownPrefixOnly) {
  EXPECT_TRUE(podid_is_nat64(ip6("64:ff9b::a9fe:a9fe").data()));
  EXPECT_TRUE(podid_is_nat64(ip6("64:ff9b::169.254.169.254").data()));
  EXPECT_FALSE(podid_is_nat64(ip6("64:ff9b:1::a9fe:a9fe").data()));
  EXPECT_FALSE(podid_is_nat64(ip6("::ffff:169.254.169.254").data()));
}

TEST(ImdsMatch, CandidatesGoFromMostToLeastSpecific) {
  podid_target_key dst, key;
  podid_target_key_v4(&dst, PODID_PROTO_TCP, ip4("169.254.169.254"), htons(80));
  podid_target_candidate(&key, &dst, 0);
  EXPECT_EQ(std::memcmp(&key, &dst, sizeof(key)), 0);
  podid_target_candidate(&key, &dst, 1);
  EXPECT_EQ(key.proto, PODID_PROTO_TCP);
  EXPECT_EQ(key.port, 0);
  podid_target_candidate(&key, &dst, 2);
  EXPECT_EQ(key.proto, PODID_PROTO_ANY);
  EXPECT_EQ(key.port, htons(80));
  podid_target_candidate(&key, &dst, 3);
  EXPECT_EQ(key.proto, PODID_PROTO_ANY);
  EXPECT_EQ(key.port, 0);
  EXPECT_EQ(std::memcmp(key.addr, dst.addr, 16), 0);
}

TEST(ImdsMatch, AzureDefaultsDecideAsDocumented) {
  TargetTable t = azure_defaults();
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "169.254.169.254", 80), PODID_ACTION_REDIRECT);
  EXPECT_EQ(t.lookup(PODID_IPPROTO_MPTCP, "169.254.169.254", 80), PODID_ACTION_REDIRECT);
  EXPECT_EQ(t.lookup(PODID_PROTO_UDP, "169.254.169.254", 80), PODID_ACTION_DENY);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "169.254.169.254", 443), PODID_ACTION_DENY);
  EXPECT_EQ(t.lookup(1 /* ICMP */, "169.254.169.254", 0), PODID_ACTION_DENY);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "168.63.129.16", 80), PODID_ACTION_DENY);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "168.63.129.16", 32526), PODID_ACTION_DENY);
  EXPECT_EQ(t.lookup(PODID_PROTO_UDP, "168.63.129.16", 53), PODID_ACTION_ALLOW);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "168.63.129.16", 53), PODID_ACTION_ALLOW);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "10.0.0.1", 80), std::nullopt);
  EXPECT_EQ(t.lookup(PODID_PROTO_TCP, "169.254.169.253", 80), std::nullopt);
}

TEST(ImdsMatch, ConnectVerdicts) {
  EXPECT_EQ(podid_connect_verdict(PODID_ACTION_REDIRECT, PODID_PROTO_TCP), PODID_VERDICT_REDIRECT);
  EXPECT_EQ(podid_connect_verdict(PODID_ACTION_REDIRECT, PODID_IPPROTO_MPTCP), PODID_VERDICT_REDIRECT);
  EXPECT_EQ(podid_connect_verdict(PODID_ACTION_REDIRECT, PODID_PROTO_UDP), PODID_VERDICT_DENY_NON_TCP);
  EXPECT_EQ(podid_connect_verdict(PODID_ACTION_DENY, PODID_PROTO_TCP), PODID_VERDICT_DENY_PORT);
  EXPECT_EQ(podid_connect_verdict(PODID_ACTION_ALLOW, PODID_PROTO_TCP), PODID_VERDICT_PASS);
  EXPECT_TRUE(podid_sendmsg_denied(PODID_ACTION_REDIRECT));
  EXPECT_TRUE(podid_sendmsg_denied(PODID_ACTION_DENY));
  EXPECT_FALSE(podid_sendmsg_denied(PODID_ACTION_ALLOW));
}

TEST(ImdsMatch, ConnKeyFoldsV4MappedToTheIpv4Key) {
  podid_conn_key v4, mapped;
  podid_conn_key_v4(&v4, ip4("10.244.1.2"), htons(40000), ip4("169.254.32.1"), htons(2579));
  auto s = ip6("::ffff:10.244.1.2"), d = ip6("::ffff:169.254.32.1");
  podid_conn_key_v6(&mapped, s.data(), htons(40000), d.data(), htons(2579));
  EXPECT_EQ(std::memcmp(&v4, &mapped, sizeof(v4)), 0);
  EXPECT_EQ(v4.family, PODID_AF_INET);
  EXPECT_EQ(v4.pad0, 0);
  EXPECT_EQ(v4.pad1[0] | v4.pad1[1], 0);
}

TEST(ImdsMatch, ConnKeyKeepsNativeIpv6) {
  podid_conn_key k;
  auto s = ip6("fd00::2"), d = ip6("fd00::1");
  podid_conn_key_v6(&k, s.data(), htons(1), d.data(), htons(2));
  EXPECT_EQ(k.family, PODID_AF_INET6);
  EXPECT_EQ(std::memcmp(k.saddr, s.data(), 16), 0);
  EXPECT_EQ(std::memcmp(k.daddr, d.data(), 16), 0);
  // A mapped source with a native destination is not folded: both ends must be IPv4 for the v4 key.
  auto ms = ip6("::ffff:10.0.0.1");
  podid_conn_key_v6(&k, ms.data(), htons(1), d.data(), htons(2));
  EXPECT_EQ(k.family, PODID_AF_INET6);
}
