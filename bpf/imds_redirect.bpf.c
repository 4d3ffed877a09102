// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * imds_redirect: sends pods' TCP connections to the instance metadata service to podid-agent, remembers
 * which cgroup made each one, and refuses every other way of reaching a target.
 *
 *   connect4/6   TCP to a REDIRECT target: record the caller in sk_state, rewrite to the agent.
 *                Other ports (DENY rules), non-TCP, NAT64 forms: refuse (EPERM).
 *   sendmsg4/6   unconnected UDP to a target: refuse. (v4-mapped UDP sendto arrives at sendmsg4.)
 *   sockops      TCP_CONNECT_CB: publish sk_state as conn_ident[4-tuple] for the agent's accept();
 *                TCP_CLOSE: withdraw that entry if the agent has not consumed it.
 *   egress       drop any packet still addressed to a target (raw sockets, ICMP).
 *   setsockopt   refuse the options that send frames around the uplink hook (PACKET_QDISC_BYPASS, AF_XDP).
 *
 * The cgroup programs attach to the kubepods cgroup. Three more run where frames are, in the node's network
 * namespace, for what no cgroup hook sees (AF_PACKET):
 *   prerouting4/6  netfilter pre-routing: drop every received packet for a target (6.4+).
 *   pod_iface      tcx ingress of each pod's host-side interface: a pod sends only as itself (6.6+).
 *   uplink         tcx egress of the node's uplink: a pod's packet socket never reaches a target (6.6+).
 *
 * The cgroup id is captured at connect because bpf_get_current_cgroup_id() is callable from sockops only
 * from 6.4, while connect runs in the caller's context on every kernel from 5.7. Entry points only here;
 * the logic is in lib/ (lib/README.md says which header holds what).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/imds_conn_track.h"
#include "lib/imds_connect.h"
#include "lib/imds_egress.h"
#include "lib/imds_pod_iface.h"
#include "lib/imds_prerouting.h"
#include "lib/imds_sockopt.h"
#include "lib/imds_uplink.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int podid_connect4(struct bpf_sock_addr *ctx)
{
	return connect_v4(ctx, ctx->user_ip4, 0, PODID_HOOK_CONNECT4);
}

/* For an AF_INET6 socket only this hook runs, also when the destination is v4-mapped. */
SEC("cgroup/connect6")
int podid_connect6(struct bpf_sock_addr *ctx)
{
	__u32 ip6[4];

	ctx_get_ip6(ctx, ip6);
	if (podid_is_v4_mapped(ip6))
		return connect_v4(ctx, ip6[3], 1, PODID_HOOK_CONNECT6);
	if (podid_is_nat64(ip6))
		return connect_nat64(ctx, ip6[3]);
	return connect_v6(ctx, ip6);
}

SEC("cgroup/sendmsg4")
int podid_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct podid_target_key dst;

	podid_target_key_v4(&dst, podid_target_proto(ctx->protocol), ctx->user_ip4, ctx_dport(ctx));
	return sendmsg_check(ctx, &dst, PODID_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int podid_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct podid_target_key dst;
	__u32 ip6[4];

	ctx_get_ip6(ctx, ip6);
	if (podid_is_v4_mapped(ip6) || podid_is_nat64(ip6))
		podid_target_key_v4(&dst, podid_target_proto(ctx->protocol), ip6[3], ctx_dport(ctx));
	else
		podid_target_key_v6(&dst, podid_target_proto(ctx->protocol), ip6, ctx_dport(ctx));
	return sendmsg_check(ctx, &dst, PODID_HOOK_SENDMSG6);
}

SEC("sockops")
int podid_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		conn_publish(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			conn_withdraw(skops);
		break;
	}
	return 1;
}

SEC("cgroup_skb/egress")
int podid_egress(struct __sk_buff *skb)
{
	return egress_verdict(skb);
}

SEC("cgroup/setsockopt")
int podid_setsockopt(struct bpf_sockopt *ctx)
{
	return sockopt_verdict(ctx);
}

/* libbpf 1.1 knows no "netfilter" section: the agent sets the program type (BPF_PROG_TYPE_NETFILTER) and
 * expected attach type (BPF_NETFILTER) before load, and attaches with BPF_LINK_CREATE itself. One program
 * serves both families; the agent attaches it twice. */
SEC("netfilter")
int podid_prerouting(struct bpf_nf_ctx___podid *ctx)
{
	return prerouting_verdict(ctx);
}

/* Attached by the agent with BPF_LINK_CREATE (BPF_TCX_INGRESS) to each pod's host-side interface. */
SEC("tc")
int podid_pod_iface(struct __sk_buff *skb)
{
	return pod_iface_verdict(skb);
}

/* Attached by the agent with BPF_LINK_CREATE (BPF_TCX_EGRESS) to the node's uplink(s). */
SEC("tc")
int podid_uplink(struct __sk_buff *skb)
{
	return uplink_verdict(skb);
}
