// SPDX-License-Identifier: Apache-2.0
// The kernel/user ABI pinned down: the BPF object and the agent compile the same header, and pinned maps
// outlive the agent, so a size or offset that moves is an ABI break that must bump PODID_ABI_VERSION.
#include <gtest/gtest.h>

#include <cstddef>

#include "podid/bpf/imds_redirect_abi.h"

static_assert(sizeof(podid_target_key) == 20);
static_assert(offsetof(podid_target_key, port) == 2);
static_assert(offsetof(podid_target_key, addr) == 4);
static_assert(sizeof(podid_target_value) == 4);

static_assert(sizeof(podid_config) == 96);
static_assert(offsetof(podid_config, agent_port) == 4);
static_assert(offsetof(podid_config, kubepods_level) == 6);
static_assert(offsetof(podid_config, agent_ip6) == 8);
static_assert(offsetof(podid_config, generation) == 24);
static_assert(offsetof(podid_config, conn_quota) == 28);
static_assert(offsetof(podid_config, kubepods_cgroup_id) == 32);
static_assert(offsetof(podid_config, qos_cgroup_id) == 40);
static_assert(offsetof(podid_config, target_ip4) == 56);
static_assert(offsetof(podid_config, target_ip4_count) == 88);

static_assert(sizeof(podid_caller) == 72);
static_assert(offsetof(podid_caller, ancestor_cgroup_id) == 8);
static_assert(offsetof(podid_caller, netns_cookie) == 24);
static_assert(offsetof(podid_caller, pid_tgid) == 32);
static_assert(offsetof(podid_caller, quota_cgroup_id) == 40);
static_assert(offsetof(podid_caller, orig_daddr) == 48);
static_assert(offsetof(podid_caller, orig_dport) == 64);
static_assert(offsetof(podid_caller, orig_family) == 66);
static_assert(offsetof(podid_caller, flags) == 67);

static_assert(sizeof(podid_conn_key) == 40);
static_assert(offsetof(podid_conn_key, sport) == 2);
static_assert(offsetof(podid_conn_key, dport) == 4);
static_assert(offsetof(podid_conn_key, saddr) == 8);
static_assert(offsetof(podid_conn_key, daddr) == 24);

static_assert(sizeof(podid_conn_ident) == 96);
static_assert(offsetof(podid_conn_ident, sock_cookie) == 72);
static_assert(offsetof(podid_conn_ident, created_ns) == 80);
static_assert(offsetof(podid_conn_ident, version) == 88);

static_assert(sizeof(podid_deny_event) == 80);
static_assert(offsetof(podid_deny_event, daddr) == 32);
static_assert(offsetof(podid_deny_event, saddr) == 48);
static_assert(offsetof(podid_deny_event, smac) == 64);
static_assert(offsetof(podid_deny_event, dport) == 70);
static_assert(offsetof(podid_deny_event, ifindex) == 72);
static_assert(offsetof(podid_deny_event, reason) == 78);

static_assert(sizeof(podid_event_limit_key) == 16);
static_assert(sizeof(podid_pod_iface) == 20);
static_assert(offsetof(podid_pod_iface, state) == 6);
static_assert(offsetof(podid_pod_iface, peer_ifindex) == 8);
static_assert(offsetof(podid_pod_iface, ip4) == 12);
static_assert(sizeof(podid_iface_addr) == 24);
static_assert(sizeof(podid_uplinks) == 4 * PODID_UPLINKS_MAX);
static_assert(offsetof(podid_iface_addr, family) == 4);
static_assert(offsetof(podid_iface_addr, addr) == 8);

TEST(AbiLayout, StructsHaveNoImplicitPadding) {
  // Every byte is a named field or an explicit pad: sums of field sizes equal the struct size.
  EXPECT_EQ(sizeof(podid_config), 4 + 2 + 2 + 16 + 4 + 4 + 8 + 16 + 4 * PODID_TARGET_IP4_MAX + 4 + 4u);
  EXPECT_EQ(sizeof(podid_conn_key), 1 + 1 + 2 + 2 + 2 + 16 + 16u);
  EXPECT_EQ(sizeof(podid_caller), 8 + 16 + 8 + 8 + 8 + 16 + 2 + 1 + 1 + 4u);
  EXPECT_EQ(sizeof(podid_conn_ident), sizeof(podid_caller) + 8 + 8 + 2 + 2 + 4u);
  EXPECT_EQ(sizeof(podid_deny_event), 8 * 4 + 16 + 16 + 6 + 2 + 4 + 1 + 1 + 1 + 1u);
  EXPECT_EQ(sizeof(podid_event_limit_key), 8 + 1 + 1 + 6u);
  EXPECT_EQ(sizeof(podid_pod_iface), 6 + 1 + 1 + 4 + 4 + 4u);
  EXPECT_EQ(sizeof(podid_iface_addr), 4 + 1 + 3 + 16u);
}

TEST(AbiLayout, StatsAndEnumsFitTheirFields) {
  EXPECT_EQ(PODID_STAT_MAX, 30);  // stat_name() in the agent names each one
  EXPECT_LT(PODID_DENY_SOCKOPT, 256);
  EXPECT_LT(PODID_HOOK_SETSOCKOPT, 256);
  EXPECT_EQ(PODID_ABI_VERSION, 2);
}
