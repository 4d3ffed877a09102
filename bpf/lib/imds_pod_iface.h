/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tcx ingress of a pod's host-side interface (the node's end of its veth): every frame the pod sends,
 * whatever made it (AF_PACKET included; the pod cannot skip this hook, it runs in the node), before the
 * bridge or the node's routing sees it. A pod may send only as itself:
 *   - the Ethernet source, an ARP sender's MAC and an ND link-layer address option are the pod's MAC;
 *   - an IPv4/IPv6 source, an ARP sender's address and an advertised ND target are the pod's addresses
 *     (IPv6 DAD and MLD from :: excepted), so no pod poisons the node's neighbour table, takes over
 *     another pod's connection or sits in its path;
 *   - no router advertisements or redirects; only IPv4, IPv6 and ARP;
 *   - nothing to a target (the pre-routing hook drops those too; here the pod is known by its interface).
 * "The pod's own" is what the agent read from the interface's peer in the pod's network namespace
 * (pod_ifaces, pod_addrs); until then every frame is dropped.
 */
#ifndef PODID_BPF_LIB_IMDS_POD_IFACE_H
#define PODID_BPF_LIB_IMDS_POD_IFACE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_frame.h"
#include "imds_observe.h"
#include "imds_targets.h"

#define PODID_TC_ACT_OK 0
#define PODID_TC_ACT_SHOT 2
#define PODID_PARSE_BYTES 256 /* enough for Ethernet, IPv6 with extension headers and an ND message */

static __always_inline int iface_owns(__u32 ifindex, __u8 family, const __u8 *addr)
{
	struct podid_iface_addr key = {.ifindex = ifindex, .family = family};

	if (family == PODID_AF_INET)
		__builtin_memcpy(key.addr, addr, 4);
	else
		__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(&pod_addrs, &key) != NULL;
}

/* An ND message's claims (the source address is checked by the caller). Returns 1 when it lies. */
static __always_inline int nd_lies(__u32 ifindex, const struct podid_frame *f, const __u8 *mac)
{
	switch (f->icmp6_type) {
	case PODID_ND_ROUTER_ADVERT:
	case PODID_ND_REDIRECT:
		return 1; /* pods are not routers */
	case PODID_ND_NEIGHBOUR_ADVERT:
		if (!iface_owns(ifindex, PODID_AF_INET6, f->nd_target))
			return 1;
		/* fall through: the link-layer address option must be the pod's too */
	case PODID_ND_NEIGHBOUR_SOLICIT:
	case PODID_ND_ROUTER_SOLICIT:
		return f->nd_malformed || (f->nd_lladdr_present && !podid_mac_equal(f->nd_lladdr, mac));
	}
	return 0;
}

/* From the unspecified address only what RFC 4862 and RFC 3810 send before an address is usable:
 * duplicate address detection for one of the pod's own addresses, and MLD reports. */
static __always_inline int unspecified_source_allowed(__u32 ifindex, const struct podid_frame *f)
{
	if (f->proto != PODID_IPPROTO_ICMPV6)
		return 0;
	if (f->icmp6_type == PODID_MLD2_REPORT)
		return 1;
	return f->icmp6_type == PODID_ND_NEIGHBOUR_SOLICIT && !f->nd_malformed && !f->nd_lladdr_present &&
	       iface_owns(ifindex, PODID_AF_INET6, f->nd_target);
}

static __always_inline int iface_drop(__u32 ifindex, const struct podid_frame *f, __u32 stat, __u8 reason)
{
	stat_inc(stat);
	emit_frame_deny(ifindex, 0, f, reason, PODID_HOOK_POD_IFACE);
	return PODID_TC_ACT_SHOT;
}

/* Headers past the linear part are pulled in once before giving up on a frame: a packet socket's frame
 * has only its Ethernet header in the linear part (packet_snd), the rest in pages. */
static __always_inline void frame_parse(struct __sk_buff *skb, struct podid_frame *f)
{
	podid_parse_frame((const __u8 *)(long)skb->data, (const __u8 *)(long)skb->data_end, f);
	if (f->kind != PODID_FRAME_MALFORMED && !f->nd_malformed)
		return;
	if (skb->data_end - skb->data >= skb->len)
		return; /* already whole: truly malformed */
	if (bpf_skb_pull_data(skb, skb->len < PODID_PARSE_BYTES ? skb->len : PODID_PARSE_BYTES))
		return;
	podid_parse_frame((const __u8 *)(long)skb->data, (const __u8 *)(long)skb->data_end, f);
}

/* The usual frame, decided from the Ethernet and IPv4 headers alone: from the pod's MAC and first IPv4
 * address, to an address that is surely no target. Anything else (0) takes the full parse. */
static __always_inline int iface_usual(struct __sk_buff *skb, const struct podid_pod_iface *pi)
{
	const __u8 *data = (const __u8 *)(long)skb->data;
	const __u8 *end = (const __u8 *)(long)skb->data_end;
	const struct podid_config *c;
	__be32 saddr, daddr;

	if (data + PODID_ETH_HLEN + 20 > end || podid_get_be16(data + 12) != PODID_ETH_P_IP)
		return 0;
	if (!pi->ip4 || !podid_mac_equal(data + 6, pi->mac))
		return 0;
	__builtin_memcpy(&saddr, data + PODID_ETH_HLEN + 12, 4);
	__builtin_memcpy(&daddr, data + PODID_ETH_HLEN + 16, 4);
	if (saddr != pi->ip4)
		return 0;
	c = config_get();
	return c && !podid_ip4_maybe_target(c, daddr);
}

static __always_inline int pod_iface_verdict(struct __sk_buff *skb)
{
	const struct podid_target_value *rule;
	const struct podid_pod_iface *pi;
	struct podid_target_key dst;
	struct podid_frame f;
	__u32 ifindex = skb->ifindex;
	__u32 sender;

	pi = bpf_map_lookup_elem(&pod_ifaces, &ifindex);
	if (pi && pi->state == PODID_IFACE_KNOWN && iface_usual(skb, pi))
		return PODID_TC_ACT_OK;
	frame_parse(skb, &f);
	if (!pi || pi->state != PODID_IFACE_KNOWN)
		return iface_drop(ifindex, &f, PODID_STAT_IFACE_UNKNOWN, PODID_DENY_IFACE_UNKNOWN);
	if (!podid_mac_equal(f.src_mac, pi->mac))
		return iface_drop(ifindex, &f, PODID_STAT_SPOOF_MAC, PODID_DENY_SPOOF_MAC);
	switch (f.kind) {
	case PODID_FRAME_ARP:
		/* A sender address of 0.0.0.0 is an ARP probe (RFC 5227): it claims nothing. */
		__builtin_memcpy(&sender, f.saddr, sizeof(sender));
		if (!podid_mac_equal(f.arp_sha, pi->mac) ||
		    (sender && !(pi->ip4 && sender == pi->ip4) && !iface_owns(ifindex, PODID_AF_INET, f.saddr)))
			return iface_drop(ifindex, &f, PODID_STAT_SPOOF_ARP, PODID_DENY_SPOOF_ARP);
		return PODID_TC_ACT_OK;
	case PODID_FRAME_IPV4:
		__builtin_memcpy(&sender, f.saddr, sizeof(sender));
		if (!(pi->ip4 && sender == pi->ip4) && !iface_owns(ifindex, PODID_AF_INET, f.saddr))
			return iface_drop(ifindex, &f, PODID_STAT_SPOOF_IP, PODID_DENY_SPOOF_IP);
		break;
	case PODID_FRAME_IPV6:
		if (podid_ip6_unspecified(f.saddr)) {
			if (!unspecified_source_allowed(ifindex, &f))
				return iface_drop(ifindex, &f, PODID_STAT_SPOOF_IP, PODID_DENY_SPOOF_IP);
			return PODID_TC_ACT_OK;
		}
		if (!iface_owns(ifindex, PODID_AF_INET6, f.saddr))
			return iface_drop(ifindex, &f, PODID_STAT_SPOOF_IP, PODID_DENY_SPOOF_IP);
		if (f.proto == PODID_IPPROTO_ICMPV6 && nd_lies(ifindex, &f, pi->mac))
			return iface_drop(ifindex, &f, PODID_STAT_SPOOF_ND, PODID_DENY_SPOOF_ND);
		break;
	default:
		return iface_drop(ifindex, &f, PODID_STAT_ETHERTYPE_DROP, PODID_DENY_ETHERTYPE);
	}
	podid_target_key_ip(&dst, f.family, f.proto, f.daddr, f.dport);
	rule = target_lookup(&dst);
	if (rule && rule->action != PODID_ACTION_ALLOW)
		return iface_drop(ifindex, &f, PODID_STAT_IFACE_TARGET_DROP, PODID_DENY_IFACE_TARGET);
	return PODID_TC_ACT_OK;
}

#endif /* PODID_BPF_LIB_IMDS_POD_IFACE_H */
