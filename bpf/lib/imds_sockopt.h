/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup/setsockopt on kubepods: the two socket options that send frames around the uplink's tcx hook.
 * PACKET_QDISC_BYPASS makes a packet socket transmit straight to the driver (dev_direct_xmit), skipping tc
 * egress: checked on 6.18, such frames left the node's uplink untouched. AF_XDP transmits the same way
 * and is configured only through SOL_XDP options. Both are refused (EPERM) to pods, hostNetwork or not; a
 * pod in its own namespace would gain nothing by them (its frames still cross its host-side interface),
 * and neither is something a pod needs.
 *
 * This hook runs for every setsockopt of every pod, on any socket family.
 */
#ifndef PODID_BPF_LIB_IMDS_SOCKOPT_H
#define PODID_BPF_LIB_IMDS_SOCKOPT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "imds_observe.h"
#include "imds_targets.h"

#define PODID_SOL_PACKET 263
#define PODID_PACKET_QDISC_BYPASS 20
#define PODID_SOL_XDP 283
#define PODID_SOCKOPT_PAGE 4096

static __always_inline int sockopt_verdict(struct bpf_sockopt *ctx)
{
	__u64 cgroup_id;

	if ((ctx->level == PODID_SOL_PACKET && ctx->optname == PODID_PACKET_QDISC_BYPASS) ||
	    ctx->level == PODID_SOL_XDP) {
		cgroup_id = bpf_get_current_cgroup_id();
		if (cgroup_is_exempt(cgroup_id))
			return 1;
		stat_inc(PODID_STAT_DENY_SOCKOPT);
		emit_deny(cgroup_id, 0, bpf_get_current_pid_tgid(), NULL, PODID_DENY_SOCKOPT, PODID_HOOK_SETSOCKOPT);
		return 0;
	}
	/* An option value beyond a page reaches the program truncated; 0 tells the kernel to use the caller's
	 * whole buffer, as if no program had run (kernel docs, "Large optval"). */
	if (ctx->optlen > PODID_SOCKOPT_PAGE)
		ctx->optlen = 0;
	return 1;
}

#endif /* PODID_BPF_LIB_IMDS_SOCKOPT_H */
