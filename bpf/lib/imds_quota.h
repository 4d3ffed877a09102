/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A per-pod bound on redirected connections alive at once (cfg.conn_quota), so that one pod cannot fill
 * conn_ident and leave every other pod on the node without a record. A socket takes a slot at
 * TCP_CONNECT_CB, where it also asks for the TCP_CLOSE callback that gives the slot back: every slot taken
 * is returned exactly once, whatever becomes of the connection (consumed by the agent, refused, reset).
 *
 * The check and the increment are two steps (an atomic fetch-and-add with its result needs 5.12 and
 * -mcpu=v3), so CPUs racing at the edge can each take the last slot: the bound is conn_quota plus at most
 * the number of CPUs minus one.
 */
#ifndef PODID_BPF_LIB_IMDS_QUOTA_H
#define PODID_BPF_LIB_IMDS_QUOTA_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "imds_redirect_maps.h"

static __always_inline __s64 quota_used(__u64 pod_cgroup_id)
{
	__s64 *used = bpf_map_lookup_elem(&conn_quota, &pod_cgroup_id);

	return used ? *used : 0;
}

/* connect4/6: a pod at its quota is refused before anything is rewritten (sockops re-checks). */
static __always_inline int quota_full(const struct podid_config *c, __u64 pod_cgroup_id)
{
	return c->conn_quota && quota_used(pod_cgroup_id) >= (__s64)c->conn_quota;
}

/* TCP_CONNECT_CB: take one of the caller's pod's slots. Returns 0 when taken (or there is no quota), else
 * the stat saying why not. */
static __always_inline __u32 quota_take(const struct podid_config *c, struct podid_caller *st)
{
	__s64 zero = 0, *used;

	if (!c || !c->conn_quota)
		return 0;
	used = bpf_map_lookup_elem(&conn_quota, &st->quota_cgroup_id);
	if (!used) {
		/* NOEXIST: another CPU may have created it meanwhile; either way look it up again. */
		bpf_map_update_elem(&conn_quota, &st->quota_cgroup_id, &zero, BPF_NOEXIST);
		used = bpf_map_lookup_elem(&conn_quota, &st->quota_cgroup_id);
		if (!used)
			return PODID_STAT_QUOTA_MAP_FULL;
	}
	if (*used >= (__s64)c->conn_quota)
		return PODID_STAT_CONN_OVER_QUOTA;
	__sync_fetch_and_add(used, 1);
	st->flags |= PODID_CALLER_COUNTED;
	return 0;
}

/* TCP_CLOSE of a socket that took a slot (or a failed publish): give it back, once. An entry the agent
 * collected meanwhile is not re-created; the signed count absorbs the difference. */
static __always_inline void quota_give_back(struct podid_caller *st)
{
	__s64 *used;

	if (!(st->flags & PODID_CALLER_COUNTED))
		return;
	st->flags &= ~PODID_CALLER_COUNTED;
	used = bpf_map_lookup_elem(&conn_quota, &st->quota_cgroup_id);
	if (used)
		__sync_fetch_and_add(used, -1);
}

#endif /* PODID_BPF_LIB_IMDS_QUOTA_H */
