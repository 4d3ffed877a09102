// SPDX-License-Identifier: Apache-2.0
// The parser the pod interface program runs on every frame (include/podid/bpf/imds_redirect_frame.h), fed
// hand-made frames: what each claims about its sender, and that nothing the kernel would act on is read short.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "podid/bpf/imds_redirect_frame.h"

namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kPodMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x05};
const Bytes kNodeMac = {0x02, 0x70, 0x64, 0x00, 0x00, 0x01};
const Bytes kOtherMac = {0x02, 0xde, 0xad, 0xbe, 0xef, 0x01};

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes be16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

Bytes v4(const char* text) {
  Bytes b(4);
  EXPECT_EQ(inet_pton(AF_INET, text, b.data()), 1) << text;
  return b;
}

Bytes v6(const char* text) {
  Bytes b(16);
  EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
  return b;
}

Bytes eth(uint16_t type, const Bytes& payload, const Bytes& src = kPodMac) {
  return cat({kNodeMac, src, be16(type), payload});
}

Bytes arp(uint16_t htype, const Bytes& sha, const char* spa, const char* tpa) {
  return cat({be16(htype), be16(PODID_ETH_P_IP), {6, 4}, be16(2), sha, v4(spa), Bytes(6, 0), v4(tpa)});
}

Bytes ipv4(const char* src, const char* dst, uint8_t proto, const Bytes& l4, uint16_t frag = 0, uint8_t ihl = 5) {
  Bytes h = cat({{static_cast<uint8_t>(0x40 | ihl), 0}, be16(static_cast<uint16_t>(ihl * 4 + l4.size())), be16(1),
                 be16(frag), {64, proto}, be16(0), v4(src), v4(dst)});
  h.resize(ihl * 4u, 1);  // options: NOPs
  return cat({h, l4});
}

Bytes ports(uint16_t sport, uint16_t dport) { return cat({be16(sport), be16(dport), Bytes(16, 0)}); }

Bytes ipv6(const char* src, const char* dst, uint8_t next, const Bytes& payload) {
  return cat({{0x60, 0, 0, 0}, be16(static_cast<uint16_t>(payload.size())), {next, 255}, v6(src), v6(dst), payload});
}

Bytes ext(uint8_t next, size_t units = 0) {  // a hop-by-hop / destination options header of (units+1)*8 bytes
  Bytes h((units + 1) * 8, 0);
  h[0] = next;
  h[1] = static_cast<uint8_t>(units);
  return h;
}

Bytes lladdr_option(uint8_t type, const Bytes& mac) { return cat({{type, 1}, mac}); }

Bytes nd(uint8_t type, const char* target, const Bytes& options) {
  return cat({{type, 0, 0, 0}, Bytes(4, 0), v6(target), options});
}

podid_frame parse(const Bytes& frame) {
  podid_frame f;
  podid_parse_frame(frame.data(), frame.data() + frame.size(), &f);
  return f;
}

std::string ip_text(const uint8_t* a, int family) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, a, buf, sizeof(buf));
  return buf;
}

TEST(ImdsFrame, ArpSenderAndTarget) {
  auto f = parse(eth(PODID_ETH_P_ARP, arp(1, kOtherMac, "10.244.1.9", "10.244.1.1")));
  ASSERT_EQ(f.kind, PODID_FRAME_ARP);
  EXPECT_TRUE(podid_mac_equal(f.src_mac, kPodMac.data()));
  EXPECT_TRUE(podid_mac_equal(f.arp_sha, kOtherMac.data()));
  EXPECT_EQ(ip_text(f.saddr, AF_INET), "10.244.1.9");
  EXPECT_EQ(ip_text(f.daddr, AF_INET), "10.244.1.1");
}

TEST(ImdsFrame, ArpOfAnotherLayoutOrCutShortIsMalformed) {
  EXPECT_EQ(parse(eth(PODID_ETH_P_ARP, arp(6, kPodMac, "10.244.1.5", "10.244.1.1"))).kind, PODID_FRAME_MALFORMED);
  Bytes cut = eth(PODID_ETH_P_ARP, arp(1, kPodMac, "10.244.1.5", "10.244.1.1"));
  cut.resize(cut.size() - 1);
  EXPECT_EQ(parse(cut).kind, PODID_FRAME_MALFORMED);
}

TEST(ImdsFrame, Ipv4PortsPastOptionsAndFragments) {
  auto f = parse(eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "169.254.169.254", 6, ports(40000, 80))));
  ASSERT_EQ(f.kind, PODID_FRAME_IPV4);
  EXPECT_EQ(f.family, PODID_AF_INET);
  EXPECT_EQ(f.proto, 6);
  EXPECT_EQ(ntohs(f.dport), 80);
  EXPECT_EQ(ip_text(f.saddr, AF_INET), "10.244.1.5");
  EXPECT_EQ(ip_text(f.daddr, AF_INET), "169.254.169.254");

  f = parse(eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "169.254.169.254", 17, ports(5353, 80), 0, 15)));  // 40 B options
  EXPECT_EQ(ntohs(f.dport), 80);

  f = parse(eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "169.254.169.254", 6, ports(40000, 443), 0x2000)));  // first
  EXPECT_FALSE(f.later_fragment);
  EXPECT_EQ(ntohs(f.dport), 443);
  f = parse(eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "169.254.169.254", 6, ports(40000, 443), 1)));  // offset 8
  EXPECT_TRUE(f.later_fragment);
  EXPECT_EQ(f.dport, 0);  // no L4 header in it: matches "any port" rules only
}

TEST(ImdsFrame, Ipv4HeaderShorterThanItSaysOrWrongVersion) {
  Bytes bad = eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "10.0.0.1", 6, {}));
  bad[14] = 0x44;  // IHL 4: shorter than a header
  EXPECT_EQ(parse(bad).kind, PODID_FRAME_MALFORMED);
  bad[14] = 0x65;  // version 6 in an IPv4 frame
  EXPECT_EQ(parse(bad).kind, PODID_FRAME_MALFORMED);
  Bytes cut = eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "10.0.0.1", 6, {}));
  cut.resize(14 + 19);
  EXPECT_EQ(parse(cut).kind, PODID_FRAME_MALFORMED);
}

TEST(ImdsFrame, Ipv6TransportAfterExtensionHeaders) {
  auto f = parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "fd00:ec2::254", 0, cat({ext(60), ext(6, 1), ports(1, 80)}))));
  ASSERT_EQ(f.kind, PODID_FRAME_IPV6);
  EXPECT_EQ(f.proto, 6);
  EXPECT_EQ(ntohs(f.dport), 80);
  EXPECT_EQ(ip_text(f.daddr, AF_INET6), "fd00:ec2::254");
  // A fragment header: the first fragment is read through, a later one has nothing to read.
  Bytes first = {17, 0, 0, 1, 0, 0, 0, 7};
  Bytes later = {17, 0, 0, 9, 0, 0, 0, 7};
  EXPECT_EQ(ntohs(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "fe80::1", 44, cat({first, ports(1, 53)})))).dport), 53);
  f = parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "fe80::1", 44, cat({later, ports(1, 53)}))));
  EXPECT_TRUE(f.later_fragment);
  EXPECT_EQ(f.dport, 0);
}

TEST(ImdsFrame, Ipv6ChainLongerThanWalkedIsMalformed) {
  Bytes chain = cat({ext(0), ext(0), ext(0), ext(0), ext(58), nd(136, "fe80::9", {})});
  EXPECT_EQ(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 0, chain))).kind, PODID_FRAME_MALFORMED);
  Bytes cut = eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 0, ext(58, 2)));
  cut.resize(cut.size() - 20);  // the options header says 24 bytes, fewer follow
  EXPECT_EQ(parse(cut).kind, PODID_FRAME_MALFORMED);
  // ICMPv6 or TCP whose header is not in the frame: unreadable, so malformed (never "no port").
  EXPECT_EQ(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, {1, 2}))).kind, PODID_FRAME_MALFORMED);
  EXPECT_EQ(parse(eth(PODID_ETH_P_IP, ipv4("10.244.1.5", "168.63.129.16", 6, {0, 1}))).kind, PODID_FRAME_MALFORMED);
}

TEST(ImdsFrame, NeighbourAdvertisementClaimsItsTargetAndMac) {
  auto f = parse(eth(PODID_ETH_P_IPV6,
                     ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", lladdr_option(2, kOtherMac)))));
  ASSERT_EQ(f.kind, PODID_FRAME_IPV6);
  EXPECT_EQ(f.icmp6_type, PODID_ND_NEIGHBOUR_ADVERT);
  EXPECT_EQ(ip_text(f.nd_target, AF_INET6), "fe80::9");
  ASSERT_TRUE(f.nd_lladdr_present);
  EXPECT_TRUE(podid_mac_equal(f.nd_lladdr, kOtherMac.data()));
  EXPECT_FALSE(f.nd_malformed);
}

TEST(ImdsFrame, NeighbourDiscoveryBehindAHopByHopHeaderIsStillRead) {
  auto f = parse(eth(PODID_ETH_P_IPV6,
                     ipv6("fe80::5", "ff02::1", 0, cat({ext(58), nd(136, "fe80::9", lladdr_option(2, kOtherMac))}))));
  EXPECT_EQ(f.icmp6_type, PODID_ND_NEIGHBOUR_ADVERT);
  EXPECT_TRUE(f.nd_lladdr_present);
}

TEST(ImdsFrame, ALinkLayerOptionAfterOthersIsFound) {
  Bytes nonce = {14, 1, 1, 2, 3, 4, 5, 6};
  auto f = parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58,
                                            nd(135, "fe80::9", cat({nonce, lladdr_option(1, kOtherMac)})))));
  EXPECT_EQ(f.icmp6_type, PODID_ND_NEIGHBOUR_SOLICIT);
  ASSERT_TRUE(f.nd_lladdr_present);
  EXPECT_TRUE(podid_mac_equal(f.nd_lladdr, kOtherMac.data()));
}

TEST(ImdsFrame, NdOptionsThatCannotAllBeReadAreMalformed) {
  Bytes nonce = {14, 1, 1, 2, 3, 4, 5, 6};
  Bytes five = cat({nonce, nonce, nonce, nonce, lladdr_option(2, kOtherMac)});
  EXPECT_TRUE(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", five)))).nd_malformed);
  Bytes zero = {2, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", zero)))).nd_malformed);
  Bytes two = cat({lladdr_option(2, kPodMac), lladdr_option(2, kOtherMac)});
  EXPECT_TRUE(parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", two)))).nd_malformed);
  Bytes long_lladdr = {2, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  EXPECT_TRUE(
      parse(eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", long_lladdr)))).nd_malformed);
  Bytes cut = eth(PODID_ETH_P_IPV6, ipv6("fe80::5", "ff02::1", 58, nd(136, "fe80::9", {})));
  cut.resize(cut.size() - 4);  // the target address cut short
  EXPECT_TRUE(parse(cut).nd_malformed);
}

TEST(ImdsFrame, OtherEthertypesAreNamedOther) {
  Bytes tagged = cat({kNodeMac, kPodMac, be16(0x8100), be16(7), be16(PODID_ETH_P_IP),
                      ipv4("10.244.1.5", "169.254.169.254", 6, ports(1, 80))});
  EXPECT_EQ(parse(tagged).kind, PODID_FRAME_OTHER);
  EXPECT_EQ(parse(eth(0x8863, Bytes(20, 0))).kind, PODID_FRAME_OTHER);  // PPPoE discovery
  EXPECT_EQ(parse(Bytes(13, 0)).kind, PODID_FRAME_MALFORMED);
}

}  // namespace
