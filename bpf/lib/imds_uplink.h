/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tcx egress of the node's uplink: frames leaving the node for Azure's network. A hostNetwork pod shares
 * the node's network namespace, so its AF_PACKET socket on the NIC skips every cgroup and pre-routing
 * hook; but the frame still carries its socket, and the socket its cgroup (checked on 6.18: SOCK_RAW and
 * SOCK_DGRAM packet sockets alike). A frame to a target whose socket belongs to a cgroup below kubepods,
 * and is not exempt (the agent), is dropped; the node's own processes (not below kubepods) and frames
 * without a socket (forwarded: pre-routing judged them) pass. PACKET_QDISC_BYPASS would skip this hook;
 * the setsockopt program refuses it to pods.
 *
 * Runs for every frame the node sends: one with no socket (forwarded) or a socket outside kubepods (the
 * node's own) is let go before anything is parsed.
 */
#ifndef PODID_BPF_LIB_IMDS_UPLINK_H
#define PODID_BPF_LIB_IMDS_UPLINK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_frame.h"
#include "imds_observe.h"
#include "imds_pod_iface.h" /* frame_parse, the tc verdicts */
#include "imds_targets.h"

/* The socket's cgroup if it is a pod's (below kubepods, not exempt), else 0. Frames with no socket
 * (forwarded: pre-routing judged them) and the node's own processes' leave at the first or second test. */
static __always_inline __u64 uplink_pod_cgroup(struct __sk_buff *skb)
{
	const struct podid_config *c;
	__u64 cgroup_id;

	if (!skb->sk)
		return 0;
	c = config_get();
	if (!c || bpf_skb_ancestor_cgroup_id(skb, c->kubepods_level) != c->kubepods_cgroup_id)
		return 0;
	cgroup_id = bpf_skb_cgroup_id(skb);
	if (!cgroup_id || cgroup_is_exempt(cgroup_id))
		return 0;
	return cgroup_id;
}

static __always_inline int uplink_verdict(struct __sk_buff *skb)
{
	const struct podid_target_value *rule;
	struct podid_target_key dst;
	struct podid_frame f;
	__u64 pod;

	pod = uplink_pod_cgroup(skb);
	if (!pod)
		return PODID_TC_ACT_OK;
	frame_parse(skb, &f);
	if (f.kind == PODID_FRAME_IPV4 || f.kind == PODID_FRAME_IPV6) {
		podid_target_key_ip(&dst, f.family, f.proto, f.daddr, f.dport);
		rule = target_lookup(&dst);
		if (!rule || rule->action == PODID_ACTION_ALLOW)
			return PODID_TC_ACT_OK;
		stat_inc(PODID_STAT_UPLINK_DROP);
		emit_frame_deny(skb->ifindex, pod, &f, PODID_DENY_UPLINK, PODID_HOOK_UPLINK);
		return PODID_TC_ACT_SHOT;
	}
	if (f.kind == PODID_FRAME_ARP)
		return PODID_TC_ACT_OK;
	/* Anything else (a VLAN tag hiding an IP packet, headers we cannot read) from a pod's socket: refused,
	 * since it could not be checked. */
	stat_inc(PODID_STAT_ETHERTYPE_DROP);
	emit_frame_deny(skb->ifindex, pod, &f, PODID_DENY_ETHERTYPE, PODID_HOOK_UPLINK);
	return PODID_TC_ACT_SHOT;
}

#endif /* PODID_BPF_LIB_IMDS_UPLINK_H */
