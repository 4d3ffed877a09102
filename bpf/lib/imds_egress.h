/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup_skb/egress: the last line. Runs for every packet a pod sends, so it stays small: one hash
 * lookup for a packet whose destination is no target. Redirected flows never get here addressed to a
 * target (connect rewrote them), so whatever does was sent around the socket hooks: raw sockets, ICMP.
 * AF_PACKET skips this hook too; that needs the host-side veth hook (see docs/security.md).
 */
#ifndef PODID_BPF_LIB_IMDS_EGRESS_H
#define PODID_BPF_LIB_IMDS_EGRESS_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_match.h"
#include "imds_observe.h"
#include "imds_targets.h"

#define PODID_SOCK_RAW 3
#define PODID_IP_OFFMASK 0x1fff

/* Destination port of a TCP or UDP header at l4, or 0 if not there. Both headers start with
 * {be16 source, be16 dest}. */
static __always_inline __be16 l4_dport(void *l4, void *data_end, __u8 proto)
{
	__be16 *ports = l4;

	if (proto != PODID_PROTO_TCP && proto != PODID_PROTO_UDP)
		return 0;
	if ((void *)(ports + 2) > data_end)
		return 0;
	return ports[1];
}

/* Fills dst from the packet; returns -1 for anything that is neither IPv4 nor IPv6. Direct packet
 * access: cgroup_skb data starts at the network header. */
static __always_inline int egress_destination(struct __sk_buff *skb, struct podid_target_key *dst)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;
		__be16 dport = 0;
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ihl = ip->ihl * 4;
		/* Non-first fragments carry no L4 header; they match "any port" rules only. */
		if (ihl >= sizeof(*ip) && !(ip->frag_off & bpf_htons(PODID_IP_OFFMASK)))
			dport = l4_dport(data + (ihl & 0x3c), data_end, ip->protocol);
		podid_target_key_v4(dst, podid_target_proto(ip->protocol), ip->daddr, dport);
		return 0;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;
		__u32 daddr[4];

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		__builtin_memcpy(daddr, &ip6->daddr, sizeof(daddr));
		/* Extension headers are not walked: such packets match "any protocol" rules only. */
		if (podid_is_v4_mapped(daddr) || podid_is_nat64(daddr))
			podid_target_key_v4(dst, podid_target_proto(ip6->nexthdr), daddr[3],
					    l4_dport(ip6 + 1, data_end, ip6->nexthdr));
		else
			podid_target_key_v6(dst, podid_target_proto(ip6->nexthdr), daddr,
					    l4_dport(ip6 + 1, data_end, ip6->nexthdr));
		return 0;
	}
	return -1;
}

static __always_inline int egress_verdict(struct __sk_buff *skb)
{
	const struct podid_target_value *rule;
	struct podid_target_key dst;
	struct bpf_sock *sk;
	__u64 cgroup_id;
	__u8 reason = PODID_DENY_EGRESS;

	if (egress_destination(skb, &dst))
		return 1;
	rule = target_lookup(&dst);
	if (!rule || rule->action == PODID_ACTION_ALLOW)
		return 1;
	cgroup_id = bpf_skb_cgroup_id(skb);
	if (cgroup_is_exempt(cgroup_id))
		return 1;
	stat_inc(PODID_STAT_EGRESS_DROP);
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk); /* skb->sk may be a request or timewait sock: no type field */
	if (sk && sk->type == PODID_SOCK_RAW) {
		stat_inc(PODID_STAT_EGRESS_DROP_RAW);
		reason = PODID_DENY_EGRESS_RAW;
	}
	emit_deny(cgroup_id, 0, 0, &dst, reason, PODID_HOOK_EGRESS);
	return 0;
}

#endif /* PODID_BPF_LIB_IMDS_EGRESS_H */
