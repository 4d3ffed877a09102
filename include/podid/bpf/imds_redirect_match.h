/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decision logic of imds_redirect with no helper calls: key building, v4-mapped and NAT64 parsing, the
 * order in which target keys are tried, and the connect verdict. Compiled into the BPF object and into
 * tests/unit/bpf/imds_redirect_match_test.cpp, so the rules the kernel applies are unit-tested as written.
 *
 * Constraints of sharing: only <linux/types.h> and the ABI header, constant-size __builtin_mem* (the BPF
 * backend lowers them to plain loads and stores), no loops the verifier would have to bound.
 */
#ifndef PODID_BPF_IMDS_REDIRECT_MATCH_H
#define PODID_BPF_IMDS_REDIRECT_MATCH_H

#include <linux/types.h>

#include "podid/bpf/imds_redirect_abi.h"

#ifdef __cplusplus
#define PODID_INLINE static inline
#else
#define PODID_INLINE static __always_inline
#endif

/* Byte order without <bpf/bpf_endian.h> or <arpa/inet.h>, so both sides can use it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define podid_htonl(x) __builtin_bswap32(x)
#define podid_htons(x) __builtin_bswap16(x)
#else
#define podid_htonl(x) (x)
#define podid_htons(x) (x)
#endif
#define podid_ntohl(x) podid_htonl(x)
#define podid_ntohs(x) podid_htons(x)

/* MPTCP sockets reach connect4 through their TCP subflows, but count them as TCP if ever seen. */
#define PODID_IPPROTO_MPTCP 262

PODID_INLINE int podid_is_tcp(__u32 protocol)
{
	return protocol == PODID_PROTO_TCP || protocol == PODID_IPPROTO_MPTCP;
}

/* ::ffff:a.b.c.d (RFC 4291 2.5.5.2). Words in network order, as in bpf_sock_addr.user_ip6. */
PODID_INLINE int podid_is_v4_mapped(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == podid_htonl(0x0000ffff);
}

/* 64:ff9b::a.b.c.d, the NAT64 well-known prefix (RFC 6052): a way to reach a v4 target through a
 * translator, so the embedded address must be treated as the target itself. */
PODID_INLINE int podid_is_nat64(const __u32 ip6[4])
{
	return ip6[0] == podid_htonl(0x0064ff9b) && ip6[1] == 0 && ip6[2] == 0;
}

PODID_INLINE void podid_target_key_v4(struct podid_target_key *key, __u8 proto, __be32 addr, __be16 port)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = PODID_AF_INET;
	key->proto = proto;
	key->port = port;
	__builtin_memcpy(key->addr, &addr, sizeof(addr));
}

PODID_INLINE void podid_target_key_v6(struct podid_target_key *key, __u8 proto, const __u32 ip6[4],
				      __be16 port)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = PODID_AF_INET6;
	key->proto = proto;
	key->port = port;
	__builtin_memcpy(key->addr, ip6, 16);
}

/* Protocol number as it goes into a target key: only TCP and UDP rules exist; anything else can only
 * match a rule for "any protocol". MPTCP folds into TCP. */
PODID_INLINE __u8 podid_target_proto(__u32 protocol)
{
	if (podid_is_tcp(protocol))
		return PODID_PROTO_TCP;
	if (protocol == PODID_PROTO_UDP)
		return PODID_PROTO_UDP;
	return 0xff; /* matches no rule but the wildcard ones */
}

/* Target key of an IP destination as a packet or frame names it (addr in network order, IPv4 in [0..3]).
 * IPv6 packets to the v4-mapped or NAT64 form of an address fold to its IPv4 key: both reach the IPv4
 * target through a translator. */
PODID_INLINE void podid_target_key_ip(struct podid_target_key *key, __u8 family, __u8 proto, const __u8 addr[16],
				      __be16 port)
{
	__u32 ip6[4];
	__be32 ip4;

	if (family == PODID_AF_INET) {
		__builtin_memcpy(&ip4, addr, 4);
		podid_target_key_v4(key, podid_target_proto(proto), ip4, port);
		return;
	}
	__builtin_memcpy(ip6, addr, 16);
	if (podid_is_v4_mapped(ip6) || podid_is_nat64(ip6))
		podid_target_key_v4(key, podid_target_proto(proto), ip6[3], port);
	else
		podid_target_key_v6(key, podid_target_proto(proto), ip6, port);
}

/* The pod a caller belongs to, from its ancestors one and two levels below the kubepods cgroup: a
 * guaranteed pod's cgroup is the first, a burstable or besteffort pod's the second (the first is the QoS
 * cgroup, qos0 or qos1). A process with no ancestor that deep counts as its own pod. */
PODID_INLINE __u64 podid_pod_cgroup(__u64 ancestor1, __u64 ancestor2, __u64 qos0, __u64 qos1, __u64 self)
{
	if (ancestor1 && (ancestor1 == qos0 || ancestor1 == qos1))
		return ancestor2 ? ancestor2 : self;
	return ancestor1 ? ancestor1 : self;
}

/* Whether an IPv4 address can be a target, from the config's list: 0 only when it surely is not (the list is
 * complete and the address is not in it). Unrolled compares: no hash, no loop to bound. */
PODID_INLINE int podid_ip4_maybe_target(const struct podid_config *c, __be32 addr)
{
	int i;

	if (c->target_ip4_count > PODID_TARGET_IP4_MAX)
		return 1;
#if defined(__clang__)
#pragma unroll
#endif
	for (i = 0; i < PODID_TARGET_IP4_MAX; i++) {
		if (i < (int)c->target_ip4_count && c->target_ip4[i] == addr)
			return 1;
	}
	return 0;
}

#define PODID_TARGET_CANDIDATES 4

/* The i-th key to try for a destination, most specific first: {proto, port}, {proto, any},
 * {any, port}, {any, any}. The last one is the address's presence marker. */
PODID_INLINE void podid_target_candidate(struct podid_target_key *key, const struct podid_target_key *dst,
					 int i)
{
	__builtin_memcpy(key, dst, sizeof(*key));
	if (i == 1 || i == 3)
		key->port = 0;
	if (i == 2 || i == 3)
		key->proto = PODID_PROTO_ANY;
}

enum podid_verdict {
	PODID_VERDICT_PASS = 0,        /* not ours, or allowed */
	PODID_VERDICT_REDIRECT,        /* rewrite to the agent and record the caller */
	PODID_VERDICT_DENY_PORT,       /* a DENY rule matched */
	PODID_VERDICT_DENY_NON_TCP,    /* a REDIRECT rule matched a non-TCP socket */
};

/* What connect4/connect6 do once a rule matched. A REDIRECT target reached by anything but TCP is
 * refused: the agent only speaks HTTP over TCP, and passing it through would reach the real service. */
PODID_INLINE enum podid_verdict podid_connect_verdict(__u8 action, __u32 protocol)
{
	switch (action) {
	case PODID_ACTION_REDIRECT:
		return podid_is_tcp(protocol) ? PODID_VERDICT_REDIRECT : PODID_VERDICT_DENY_NON_TCP;
	case PODID_ACTION_DENY:
		return PODID_VERDICT_DENY_PORT;
	default:
		return PODID_VERDICT_PASS;
	}
}

/* Anything that is not ALLOW refuses an unconnected datagram: UDP can never be redirected. */
PODID_INLINE int podid_sendmsg_denied(__u8 action)
{
	return action != PODID_ACTION_ALLOW;
}

/* conn_ident key from IPv4 parts, all in network order. */
PODID_INLINE void podid_conn_key_v4(struct podid_conn_key *key, __be32 saddr, __be16 sport, __be32 daddr,
				    __be16 dport)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = PODID_AF_INET;
	key->sport = sport;
	key->dport = dport;
	__builtin_memcpy(key->saddr, &saddr, sizeof(saddr));
	__builtin_memcpy(key->daddr, &daddr, sizeof(daddr));
}

/* conn_ident key from IPv6 parts. A v4-mapped socket (an AF_INET6 socket connected to ::ffff:a.b.c.d)
 * is folded to the IPv4 key, which is what the agent sees when it accepts on an IPv4 address. */
PODID_INLINE void podid_conn_key_v6(struct podid_conn_key *key, const __u32 saddr[4], __be16 sport,
				    const __u32 daddr[4], __be16 dport)
{
	if (podid_is_v4_mapped(saddr) && podid_is_v4_mapped(daddr)) {
		podid_conn_key_v4(key, saddr[3], sport, daddr[3], dport);
		return;
	}
	__builtin_memset(key, 0, sizeof(*key));
	key->family = PODID_AF_INET6;
	key->sport = sport;
	key->dport = dport;
	__builtin_memcpy(key->saddr, saddr, 16);
	__builtin_memcpy(key->daddr, daddr, 16);
}

#endif /* PODID_BPF_IMDS_REDIRECT_MATCH_H */
