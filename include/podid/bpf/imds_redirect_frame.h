/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frames as a pod hands them to its host-side interface, parsed with no helper calls: what a frame claims
 * about its sender (Ethernet source, ARP sender, IP source, the target and link-layer address of an IPv6
 * neighbour advertisement or solicitation) and where it is going. The checks against the pod's own
 * addresses are map lookups, in bpf/lib/imds_pod_iface.h; the parsing is here, compiled into the BPF object
 * and into tests/unit/bpf/imds_redirect_frame_test.cpp, which feeds it hand-made frames.
 *
 * Verifier constraints: every read follows a check of the form "pointer + constant <= end" against the
 * frame's end, on a pointer whose variable offset is bounded; loops have constant trip counts and are
 * unrolled. Multi-byte fields are assembled byte by byte, so nothing depends on alignment.
 */
#ifndef PODID_BPF_IMDS_REDIRECT_FRAME_H
#define PODID_BPF_IMDS_REDIRECT_FRAME_H

#include <linux/types.h>

#include "podid/bpf/imds_redirect_match.h"

#if defined(__clang__)
#define PODID_UNROLL _Pragma("unroll")
#else
#define PODID_UNROLL
#endif

#define PODID_ETH_HLEN 14
#define PODID_ETH_P_IP 0x0800
#define PODID_ETH_P_ARP 0x0806
#define PODID_ETH_P_IPV6 0x86dd

/* IPv6 extension headers walked before the upper-layer header (RFC 8200 4.1). */
#define PODID_IPV6_HOPOPTS 0
#define PODID_IPV6_ROUTING 43
#define PODID_IPV6_FRAGMENT 44
#define PODID_IPV6_DSTOPTS 60
#define PODID_IPPROTO_ICMPV6 58
#define PODID_IPV6_EXT_MAX 4

/* ICMPv6 types that matter here (RFC 4861, RFC 3810). */
#define PODID_ND_ROUTER_SOLICIT 133
#define PODID_ND_ROUTER_ADVERT 134
#define PODID_ND_NEIGHBOUR_SOLICIT 135
#define PODID_ND_NEIGHBOUR_ADVERT 136
#define PODID_ND_REDIRECT 137
#define PODID_MLD2_REPORT 143
#define PODID_ND_OPT_SOURCE_LLADDR 1
#define PODID_ND_OPT_TARGET_LLADDR 2
#define PODID_ND_OPT_MAX 4 /* more options than this are refused rather than left unread */

enum podid_frame_kind {
	PODID_FRAME_OTHER = 0, /* an ethertype pods have no business sending (VLAN tags, PPPoE, ...) */
	PODID_FRAME_ARP,
	PODID_FRAME_IPV4,
	PODID_FRAME_IPV6,
	PODID_FRAME_MALFORMED, /* shorter than its headers say, or ARP of another hardware/protocol type */
};

struct podid_frame {
	__u8 kind;            /* enum podid_frame_kind */
	__u8 src_mac[6];      /* Ethernet source */
	__u8 family;          /* IP frames: PODID_AF_INET or PODID_AF_INET6 */
	__u8 proto;           /* IP frames: upper-layer protocol after IPv6 extension headers */
	__u8 later_fragment;  /* IP frames: a fragment other than the first, so no upper-layer header */
	__be16 dport;         /* TCP/UDP destination port, 0 if none could be read */
	__u8 saddr[16];       /* IP source, or the ARP sender's protocol address; IPv4 in [0..3] */
	__u8 daddr[16];       /* IP destination, or the ARP target's protocol address */
	__u8 arp_sha[6];      /* ARP sender hardware address */
	__u8 icmp6_type;      /* ICMPv6 frames: the type, else 0 */
	__u8 nd_lladdr_present;
	__u8 nd_lladdr[6];    /* source (RS, NS) or target (NA) link-layer address option */
	__u8 nd_target[16];   /* NS and NA: the address asked about or advertised */
	__u8 nd_malformed;    /* an ND message whose options cannot all be read, or with two lladdr options */
};

PODID_INLINE __u16 podid_get_be16(const __u8 *p)
{
	return (__u16)((p[0] << 8) | p[1]);
}

PODID_INLINE int podid_mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

PODID_INLINE int podid_ip6_unspecified(const __u8 *a)
{
	__u32 w[4];

	__builtin_memcpy(w, a, 16);
	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* ARP over Ethernet for IPv4 (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4. Anything else is refused:
 * the node's neighbour code would not use it, and an unknown layout cannot be checked. */
PODID_INLINE void podid_parse_arp(const __u8 *arp, const __u8 *end, struct podid_frame *f)
{
	if (arp + 28 > end || podid_get_be16(arp) != 1 || podid_get_be16(arp + 2) != PODID_ETH_P_IP ||
	    arp[4] != 6 || arp[5] != 4) {
		f->kind = PODID_FRAME_MALFORMED;
		return;
	}
	f->kind = PODID_FRAME_ARP;
	f->family = PODID_AF_INET;
	__builtin_memcpy(f->arp_sha, arp + 8, 6);
	__builtin_memcpy(f->saddr, arp + 14, 4);
	__builtin_memcpy(f->daddr, arp + 24, 4);
}

/* TCP and UDP both start with {be16 source, be16 destination}. A TCP or UDP header that is not there to
 * read makes the frame malformed: the destination port decides, so it is never guessed. */
PODID_INLINE void podid_read_dport(const __u8 *l4, const __u8 *end, struct podid_frame *f)
{
	if (f->proto != PODID_PROTO_TCP && f->proto != PODID_PROTO_UDP)
		return;
	if (l4 + 4 > end) {
		f->kind = PODID_FRAME_MALFORMED;
		return;
	}
	__builtin_memcpy(&f->dport, l4 + 2, 2);
}

PODID_INLINE void podid_parse_ipv4(const __u8 *ip, const __u8 *end, struct podid_frame *f)
{
	__u32 ihl;

	if (ip + 20 > end || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5) {
		f->kind = PODID_FRAME_MALFORMED;
		return;
	}
	f->kind = PODID_FRAME_IPV4;
	f->family = PODID_AF_INET;
	f->proto = ip[9];
	__builtin_memcpy(f->saddr, ip + 12, 4);
	__builtin_memcpy(f->daddr, ip + 16, 4);
	f->later_fragment = (podid_get_be16(ip + 6) & 0x1fff) != 0;
	ihl = (ip[0] & 0xf) * 4;
	if (!f->later_fragment)
		podid_read_dport(ip + ihl, end, f);
}

/* The link-layer address options of an ND message whose fixed part ends at opt. A message the kernel
 * would act on with an option we could not reach is refused (nd_malformed), never passed unchecked. */
PODID_INLINE void podid_parse_nd_options(const __u8 *opt, const __u8 *end, struct podid_frame *f)
{
	int i;

	PODID_UNROLL
	for (i = 0; i < PODID_ND_OPT_MAX; i++) {
		__u32 len;

		if (opt + 2 > end)
			return; /* no more options */
		len = (__u32)opt[1] * 8;
		if (len == 0) {
			f->nd_malformed = 1; /* RFC 4861 4.6: a zero-length option is invalid */
			return;
		}
		if (opt[0] == PODID_ND_OPT_SOURCE_LLADDR || opt[0] == PODID_ND_OPT_TARGET_LLADDR) {
			if (len != 8 || opt + 8 > end || f->nd_lladdr_present) {
				f->nd_malformed = 1;
				return;
			}
			f->nd_lladdr_present = 1;
			__builtin_memcpy(f->nd_lladdr, opt + 2, 6);
		}
		opt += len;
	}
	if (opt + 2 <= end)
		f->nd_malformed = 1; /* more options than we read */
}

PODID_INLINE void podid_parse_icmp6(const __u8 *icmp, const __u8 *end, struct podid_frame *f)
{
	if (icmp + 4 > end) {
		f->kind = PODID_FRAME_MALFORMED; /* an ICMPv6 type we cannot read could be neighbour discovery */
		return;
	}
	f->icmp6_type = icmp[0];
	switch (icmp[0]) {
	case PODID_ND_ROUTER_SOLICIT:
		podid_parse_nd_options(icmp + 8, end, f);
		break;
	case PODID_ND_NEIGHBOUR_SOLICIT:
	case PODID_ND_NEIGHBOUR_ADVERT:
		if (icmp + 24 > end) {
			f->nd_malformed = 1;
			return;
		}
		__builtin_memcpy(f->nd_target, icmp + 8, 16);
		podid_parse_nd_options(icmp + 24, end, f);
		break;
	}
}

/* IPv6 with up to PODID_IPV6_EXT_MAX extension headers before the upper-layer one, so that an ND message
 * cannot hide behind a hop-by-hop or destination options header. More than that is refused. */
PODID_INLINE void podid_parse_ipv6(const __u8 *ip, const __u8 *end, struct podid_frame *f)
{
	const __u8 *p;
	__u8 next;
	int i;

	if (ip + 40 > end || (ip[0] >> 4) != 6) {
		f->kind = PODID_FRAME_MALFORMED;
		return;
	}
	f->kind = PODID_FRAME_IPV6;
	f->family = PODID_AF_INET6;
	__builtin_memcpy(f->saddr, ip + 8, 16);
	__builtin_memcpy(f->daddr, ip + 24, 16);
	next = ip[6];
	p = ip + 40;
	PODID_UNROLL
	for (i = 0; i < PODID_IPV6_EXT_MAX; i++) {
		if (next == PODID_IPV6_HOPOPTS || next == PODID_IPV6_ROUTING || next == PODID_IPV6_DSTOPTS) {
			if (p + 2 > end) {
				f->kind = PODID_FRAME_MALFORMED;
				return;
			}
			next = p[0];
			p += ((__u32)p[1] + 1) * 8;
		} else if (next == PODID_IPV6_FRAGMENT) {
			if (p + 8 > end) {
				f->kind = PODID_FRAME_MALFORMED;
				return;
			}
			next = p[0];
			f->later_fragment = (podid_get_be16(p + 2) & 0xfff8) != 0;
			p += 8;
			if (f->later_fragment)
				break;
		} else {
			break;
		}
	}
	if (next == PODID_IPV6_HOPOPTS || next == PODID_IPV6_ROUTING || next == PODID_IPV6_DSTOPTS ||
	    (next == PODID_IPV6_FRAGMENT && !f->later_fragment)) {
		f->kind = PODID_FRAME_MALFORMED; /* a longer chain than we walk */
		return;
	}
	if (p > end) {
		f->kind = PODID_FRAME_MALFORMED; /* an extension header longer than the frame */
		return;
	}
	f->proto = next;
	if (f->later_fragment)
		return;
	if (next == PODID_IPPROTO_ICMPV6)
		podid_parse_icmp6(p, end, f);
	else
		podid_read_dport(p, end, f);
}

/* Fills f from the frame [data, end). Never fails: what cannot be read says so in f->kind. */
PODID_INLINE void podid_parse_frame(const __u8 *data, const __u8 *end, struct podid_frame *f)
{
	__builtin_memset(f, 0, sizeof(*f));
	if (data + PODID_ETH_HLEN > end) {
		f->kind = PODID_FRAME_MALFORMED;
		return;
	}
	__builtin_memcpy(f->src_mac, data + 6, 6);
	switch (podid_get_be16(data + 12)) {
	case PODID_ETH_P_ARP:
		podid_parse_arp(data + PODID_ETH_HLEN, end, f);
		break;
	case PODID_ETH_P_IP:
		podid_parse_ipv4(data + PODID_ETH_HLEN, end, f);
		break;
	case PODID_ETH_P_IPV6:
		podid_parse_ipv6(data + PODID_ETH_HLEN, end, f);
		break;
	default:
		f->kind = PODID_FRAME_OTHER;
	}
}

#endif /* PODID_BPF_IMDS_REDIRECT_FRAME_H */
