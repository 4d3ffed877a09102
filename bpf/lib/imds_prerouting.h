/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Netfilter pre-routing in the node's network namespace (a BPF netfilter link, 6.4+, one for IPv4 and one
 * for IPv6): every packet the node receives, from every interface including those created after the link,
 * passes here before routing. A packet for a target is dropped. Pods' redirected connections never arrive
 * addressed to a target (connect4 rewrote them), the node's own traffic is not received but sent (it never
 * passes pre-routing), so what is dropped here is what a pod made by hand: AF_PACKET frames, or raw IP sent
 * from a network namespace the cgroup hooks do not see. This is the hook with no window: a pod's interface
 * is covered from the moment it exists, whatever the agent knows of it.
 *
 * The context is the kernel's struct bpf_nf_ctx, read through BTF (CO-RE): the skb's network header is
 * copied with bpf_probe_read_kernel, since netfilter programs have no direct packet access.
 */
#ifndef PODID_BPF_LIB_IMDS_PREROUTING_H
#define PODID_BPF_LIB_IMDS_PREROUTING_H

#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_frame.h" /* struct podid_frame: what the deny event reports */
#include "imds_observe.h"
#include "imds_targets.h"

#define PODID_NF_DROP 0
#define PODID_NF_ACCEPT 1
#define PODID_NFPROTO_IPV4 2
#define PODID_NFPROTO_IPV6 10

/* The few kernel fields read, matched to the running kernel's BTF by name (the ___podid suffix is ignored
 * by CO-RE and keeps these apart from any header's definitions). */
struct net_device___podid {
	int ifindex;
} __attribute__((preserve_access_index));

struct sk_buff___podid {
	unsigned int len;
	unsigned char *head;
	__u16 network_header;
} __attribute__((preserve_access_index));

struct nf_hook_state___podid {
	__u8 hook;
	__u8 pf;
	struct net_device___podid *in;
} __attribute__((preserve_access_index));

struct bpf_nf_ctx___podid {
	const struct nf_hook_state___podid *state;
	struct sk_buff___podid *skb;
} __attribute__((preserve_access_index));

/* The IP header at the network header, copied to the stack (constant offsets only: the verifier cannot
 * bound a variable offset into a stack copy). IPv6 extension headers are not walked here (a packet behind
 * them matches "any protocol" rules only). The ports are read only for a packet to a target's address: the
 * usual packet costs one copy and one lookup. */
static __always_inline int prerouting_read(struct bpf_nf_ctx___podid *ctx, struct podid_frame *f,
					   struct podid_target_key *dst)
{
	struct sk_buff___podid *skb = ctx->skb;
	const unsigned char *nh = skb->head + skb->network_header;
	__u32 len = skb->len, l4_off;
	__u8 ip[40];
	__u8 ports[4];

	__builtin_memset(f, 0, sizeof(*f));
	if (ctx->state->pf == PODID_NFPROTO_IPV4) {
		if (len < 20 || bpf_probe_read_kernel(ip, 20, nh) || (ip[0] >> 4) != 4)
			return -1;
		f->kind = PODID_FRAME_IPV4;
		f->family = PODID_AF_INET;
		f->proto = ip[9];
		f->later_fragment = (podid_get_be16(ip + 6) & 0x1fff) != 0;
		__builtin_memcpy(f->saddr, ip + 12, 4);
		__builtin_memcpy(f->daddr, ip + 16, 4);
		l4_off = (ip[0] & 0xf) * 4;
	} else if (ctx->state->pf == PODID_NFPROTO_IPV6) {
		if (len < 40 || bpf_probe_read_kernel(ip, 40, nh) || (ip[0] >> 4) != 6)
			return -1;
		f->kind = PODID_FRAME_IPV6;
		f->family = PODID_AF_INET6;
		f->proto = ip[6];
		__builtin_memcpy(f->saddr, ip + 8, 16);
		__builtin_memcpy(f->daddr, ip + 24, 16);
		l4_off = 40;
	} else {
		return -1;
	}
	podid_target_key_ip(dst, f->family, f->proto, f->daddr, 0);
	if (!target_address(dst))
		return -1;
	if (!f->later_fragment && (f->proto == PODID_PROTO_TCP || f->proto == PODID_PROTO_UDP) &&
	    len >= l4_off + 4 && !bpf_probe_read_kernel(ports, sizeof(ports), nh + l4_off)) {
		__builtin_memcpy(&f->dport, ports + 2, 2);
		dst->port = f->dport;
	}
	return 0;
}

/* A packet the cloud's network sent the node (the way back of every pod's traffic to it): no pod can send by
 * that interface, so it is not read. */
static __always_inline int from_uplink(__u32 ifindex)
{
	const struct podid_uplinks *u;
	__u32 zero = 0;

	u = bpf_map_lookup_elem(&uplinks, &zero);
	if (!u || !ifindex)
		return 0;
	return u->ifindex[0] == ifindex || u->ifindex[1] == ifindex || u->ifindex[2] == ifindex ||
	       u->ifindex[3] == ifindex;
}

static __always_inline int prerouting_verdict(struct bpf_nf_ctx___podid *ctx)
{
	const struct podid_target_value *rule;
	struct podid_target_key dst;
	struct podid_frame f;
	__u32 in = ctx->state->in ? ctx->state->in->ifindex : 0;

	if (from_uplink(in))
		return PODID_NF_ACCEPT;
	if (prerouting_read(ctx, &f, &dst))
		return PODID_NF_ACCEPT; /* not IP, or not to a target's address */
	rule = target_lookup(&dst);
	if (!rule || rule->action == PODID_ACTION_ALLOW)
		return PODID_NF_ACCEPT;
	stat_inc(PODID_STAT_PREROUTING_DROP);
	emit_frame_deny(in, 0, &f, PODID_DENY_PREROUTING, PODID_HOOK_PREROUTING);
	return PODID_NF_DROP;
}

#endif /* PODID_BPF_LIB_IMDS_PREROUTING_H */
