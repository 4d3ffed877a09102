/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Counters and deny events: the two ways imds_redirect tells user space what it did. */
#ifndef PODID_BPF_LIB_IMDS_OBSERVE_H
#define PODID_BPF_LIB_IMDS_OBSERVE_H

#include "imds_redirect_maps.h"

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	/* Per-CPU slot, no other writer while we run: a plain add is exact. */
	if (v)
		*v += 1;
}

/* Best effort: a full ring buffer loses the event, never the refusal, and is itself counted. */
static __always_inline void emit_deny(__u64 cgroup_id, __u64 netns_cookie, __u64 pid_tgid,
				      const struct podid_target_key *dst, __u8 reason, __u8 hook)
{
	struct podid_deny_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		stat_inc(PODID_STAT_EVENT_DROPPED);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->cgroup_id = cgroup_id;
	ev->netns_cookie = netns_cookie;
	ev->pid_tgid = pid_tgid;
	__builtin_memcpy(ev->daddr, dst->addr, sizeof(ev->daddr));
	ev->dport = dst->port;
	ev->family = dst->family;
	ev->proto = dst->proto;
	ev->reason = reason;
	ev->hook = hook;
	ev->pad[0] = 0;
	ev->pad[1] = 0;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* PODID_BPF_LIB_IMDS_OBSERVE_H */
