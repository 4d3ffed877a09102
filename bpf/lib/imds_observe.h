/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counters and deny events: the two ways imds_redirect tells user space what it did. Counters count every
 * refusal; events are for the audit log and are limited to one per source and reason per
 * PODID_EVENT_INTERVAL_NS, so that a pod flooding refused frames costs a counter increment per frame and
 * fills neither the ring buffer nor the agent's log.
 */
#ifndef PODID_BPF_LIB_IMDS_OBSERVE_H
#define PODID_BPF_LIB_IMDS_OBSERVE_H

#include "podid/bpf/imds_redirect_frame.h"
#include "imds_redirect_maps.h"

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	/* Per-CPU slot, no other writer while we run: a plain add is exact. */
	if (v)
		*v += 1;
}

/* A ring buffer record for this source and reason, or NULL when one was sent within the interval (counted
 * as suppressed) or the ring buffer is full (counted as dropped). Races between CPUs only let an extra
 * event through. */
static __always_inline struct podid_deny_event *event_reserve(__u64 source, __u8 reason, __u8 hook)
{
	struct podid_event_limit_key key = {.source = source, .reason = reason, .hook = hook};
	struct podid_deny_event *ev;
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&event_limit, &key);

	if (last && now - *last < PODID_EVENT_INTERVAL_NS) {
		stat_inc(PODID_STAT_EVENT_SUPPRESSED);
		return NULL;
	}
	if (last)
		*last = now;
	else
		bpf_map_update_elem(&event_limit, &key, &now, BPF_ANY);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(PODID_STAT_EVENT_DROPPED);
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now;
	ev->reason = reason;
	ev->hook = hook;
	return ev;
}

/* A refusal by a socket hook, in the caller's context. Best effort: a lost event never loses the refusal. */
static __always_inline void emit_deny(__u64 cgroup_id, __u64 netns_cookie, __u64 pid_tgid,
				      const struct podid_target_key *dst, __u8 reason, __u8 hook)
{
	struct podid_deny_event *ev = event_reserve(cgroup_id, reason, hook);

	if (!ev)
		return;
	ev->cgroup_id = cgroup_id;
	ev->netns_cookie = netns_cookie;
	ev->pid_tgid = pid_tgid;
	if (dst) {
		__builtin_memcpy(ev->daddr, dst->addr, sizeof(ev->daddr));
		ev->dport = dst->port;
		ev->family = dst->family;
		ev->proto = dst->proto;
	}
	bpf_ringbuf_submit(ev, 0);
}

/* A refused frame, seen on an interface (pre-routing: the one it came in by; a pod's: its host side; the
 * uplink: the one it was leaving by). The source of the limit is the interface, or the sending socket's
 * cgroup where there is one. */
static __always_inline void emit_frame_deny(__u32 ifindex, __u64 cgroup_id, const struct podid_frame *f,
					    __u8 reason, __u8 hook)
{
	struct podid_deny_event *ev = event_reserve(cgroup_id ? cgroup_id : ifindex, reason, hook);

	if (!ev)
		return;
	ev->cgroup_id = cgroup_id;
	ev->ifindex = ifindex;
	ev->family = f->family;
	ev->proto = f->proto;
	ev->dport = f->dport;
	__builtin_memcpy(ev->daddr, f->daddr, sizeof(ev->daddr));
	__builtin_memcpy(ev->saddr, f->saddr, sizeof(ev->saddr));
	if (f->kind == PODID_FRAME_ARP)
		__builtin_memcpy(ev->smac, f->arp_sha, sizeof(ev->smac));
	else
		__builtin_memcpy(ev->smac, f->src_mac, sizeof(ev->smac));
	bpf_ringbuf_submit(ev, 0);
}

#endif /* PODID_BPF_LIB_IMDS_OBSERVE_H */
