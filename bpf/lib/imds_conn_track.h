/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sockops side: publish each redirected connection under its 4-tuple for the agent's accept(), and
 * withdraw it when the socket closes.
 *
 * TCP_CONNECT_CB runs inside connect() (or sendto(MSG_FASTOPEN), or io_uring's connect) after the source
 * port is bound and before the SYN leaves, so the entry exists before the agent can accept. We never read
 * "current" here: the caller was captured by connect4/6.
 */
#ifndef PODID_BPF_LIB_IMDS_CONN_TRACK_H
#define PODID_BPF_LIB_IMDS_CONN_TRACK_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_match.h"
#include "imds_observe.h"
#include "imds_quota.h"
#include "imds_redirect_maps.h"
#include "imds_targets.h"

#define PODID_E2BIG 7
#define PODID_EEXIST 17

/* The key as the agent will build it from accept(): peer (our local end) first, agent (remote) second.
 * Byte order: local_port is host order; remote_port is the be16 port widened to a be32, so ntohl gives
 * the host-order port; the IPv4/IPv6 addresses are network order. */
static __always_inline int conn_key_from_skops(const struct bpf_sock_ops *skops, struct podid_conn_key *key)
{
	__be16 sport = bpf_htons((__u16)skops->local_port);
	__be16 dport = bpf_htons((__u16)bpf_ntohl(skops->remote_port));
	__u32 family = skops->family;
	__u32 s6[4], d6[4];

	if (family == PODID_AF_INET) {
		podid_conn_key_v4(key, skops->local_ip4, sport, skops->remote_ip4, dport);
		return 0;
	}
	if (family != PODID_AF_INET6)
		return -1;
	/* One field per load with barriers, else clang folds them into a modified ctx pointer. */
	s6[0] = skops->local_ip6[0];
	asm volatile("" ::: "memory");
	s6[1] = skops->local_ip6[1];
	asm volatile("" ::: "memory");
	s6[2] = skops->local_ip6[2];
	asm volatile("" ::: "memory");
	s6[3] = skops->local_ip6[3];
	asm volatile("" ::: "memory");
	d6[0] = skops->remote_ip6[0];
	asm volatile("" ::: "memory");
	d6[1] = skops->remote_ip6[1];
	asm volatile("" ::: "memory");
	d6[2] = skops->remote_ip6[2];
	asm volatile("" ::: "memory");
	d6[3] = skops->remote_ip6[3];
	podid_conn_key_v6(key, s6, sport, d6, dport);
	return 0;
}

static __always_inline void conn_publish(struct bpf_sock_ops *skops)
{
	struct podid_conn_ident ident = {};
	struct podid_conn_key key;
	struct podid_caller *st;
	struct bpf_sock *sk = skops->sk;
	__u32 over;
	long err;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&sk_state, sk, 0, 0);
	if (!st)
		return; /* not a redirected socket */
	if (conn_key_from_skops(skops, &key))
		return;
	/* Over its pod's quota: no record, so the agent refuses the connection; the pod's other connections
	 * and every other pod's are unaffected. */
	over = quota_take(config_get(), st);
	if (over) {
		stat_inc(over);
		emit_deny(st->cgroup_id, st->netns_cookie, st->pid_tgid, NULL, PODID_DENY_CONN_QUOTA,
			  PODID_HOOK_SOCKOPS);
		return;
	}
	__builtin_memcpy(&ident.caller, st, sizeof(ident.caller));
	ident.sock_cookie = bpf_get_socket_cookie(skops);
	ident.created_ns = bpf_ktime_get_ns();
	ident.version = PODID_ABI_VERSION;
	/* NOEXIST: a tuple already present belongs to another live socket (possible across network
	 * namespaces with IP_FREEBIND); never overwrite it. The agent then finds the older entry's owner,
	 * whose source-IP check fails, or no entry: a refusal either way, never the wrong pod. */
	err = bpf_map_update_elem(&conn_ident, &key, &ident, BPF_NOEXIST);
	if (err) {
		stat_inc(err == -PODID_EEXIST ? PODID_STAT_CONN_COLLISION : PODID_STAT_CONN_MAP_FULL);
		quota_give_back(st);
		return;
	}
	stat_inc(PODID_STAT_CONN_RECORDED);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* TCP_CLOSE (also reached on the way to TIME_WAIT): give the pod's slot back, and drop our entry unless
 * the agent already took it. The cookie check keeps a closing socket from deleting a newer entry for the
 * same tuple. */
static __always_inline void conn_withdraw(struct bpf_sock_ops *skops)
{
	struct podid_conn_ident *ident;
	struct podid_conn_key key;
	struct podid_caller *st;

	if (skops->sk) {
		st = bpf_sk_storage_get(&sk_state, skops->sk, 0, 0);
		if (st)
			quota_give_back(st);
	}
	if (conn_key_from_skops(skops, &key))
		return;
	ident = bpf_map_lookup_elem(&conn_ident, &key);
	if (!ident || ident->sock_cookie != bpf_get_socket_cookie(skops))
		return;
	if (bpf_map_delete_elem(&conn_ident, &key) == 0)
		stat_inc(PODID_STAT_CONN_CLOSED);
}

#endif /* PODID_BPF_LIB_IMDS_CONN_TRACK_H */
