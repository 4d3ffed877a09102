/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * connect and sendmsg decisions (sock_addr programs). Runs in the caller's process context, so
 * bpf_get_current_cgroup_id() here is the calling task's cgroup on every kernel from 5.7.
 */
#ifndef PODID_BPF_LIB_IMDS_CONNECT_H
#define PODID_BPF_LIB_IMDS_CONNECT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_match.h"
#include "imds_observe.h"
#include "imds_quota.h"
#include "imds_targets.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

/* user_port holds the be16 port in the low half of a u32; read it whole (narrow ctx loads are not
 * allowed on every kernel) and truncate. */
static __always_inline __be16 ctx_dport(const struct bpf_sock_addr *ctx)
{
	volatile __u32 port = ctx->user_port;

	return (__be16)port;
}

/* user_ip6 words one at a time with a barrier between them: clang otherwise merges the loads into one
 * computed ctx pointer, which the verifier rejects ("dereference of modified ctx ptr"). */
static __always_inline void ctx_get_ip6(const struct bpf_sock_addr *ctx, __u32 ip6[4])
{
	ip6[0] = ctx->user_ip6[0];
	asm volatile("" ::: "memory");
	ip6[1] = ctx->user_ip6[1];
	asm volatile("" ::: "memory");
	ip6[2] = ctx->user_ip6[2];
	asm volatile("" ::: "memory");
	ip6[3] = ctx->user_ip6[3];
}

static __always_inline int refuse(struct bpf_sock_addr *ctx, const struct podid_target_key *dst,
				  __u64 cgroup_id, __u32 stat, __u8 reason, __u8 hook)
{
	stat_inc(stat);
	emit_deny(cgroup_id, bpf_get_netns_cookie(ctx), bpf_get_current_pid_tgid(), dst, reason, hook);
	return SYS_REJECT;
}

/* Once a rule matched: exempt callers (the agent) and ALLOW rules pass, DENY rules and non-TCP to a
 * REDIRECT target are refused. Returns PODID_GO_REDIRECT when the caller is to be redirected, else the
 * syscall verdict; *cgroup_id is the caller's either way. */
#define PODID_GO_REDIRECT 2
static __always_inline int connect_decide(struct bpf_sock_addr *ctx, const struct podid_target_value *rule,
					  const struct podid_target_key *dst, __u64 *cgroup_id, __u8 hook)
{
	*cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_is_exempt(*cgroup_id)) {
		stat_inc(PODID_STAT_EXEMPT);
		return SYS_PROCEED;
	}
	switch (podid_connect_verdict(rule->action, ctx->protocol)) {
	case PODID_VERDICT_PASS:
		stat_inc(PODID_STAT_ALLOW);
		return SYS_PROCEED;
	case PODID_VERDICT_DENY_PORT:
		return refuse(ctx, dst, *cgroup_id, PODID_STAT_DENY_PORT, PODID_DENY_PORT, hook);
	case PODID_VERDICT_DENY_NON_TCP:
		return refuse(ctx, dst, *cgroup_id, PODID_STAT_DENY_NON_TCP, PODID_DENY_NON_TCP, hook);
	case PODID_VERDICT_REDIRECT:
		break;
	}
	return PODID_GO_REDIRECT;
}

/* Keeps who is calling in socket-local storage; sockops copies it once the source port is bound. Returns
 * the record, or NULL when the socket cannot hold one. The hook runs only for a socket that is unconnected
 * and closed (the kernel checks before calling it), so a socket connecting again has given its quota slot
 * back at its TCP_CLOSE; the give-back here only keeps that true if it ever were not. */
static __always_inline struct podid_caller *record_caller(struct bpf_sock_addr *ctx, const struct podid_config *c,
							  const struct podid_target_key *dst, __u64 cgroup_id)
{
	struct bpf_sock *sk = ctx->sk;
	struct podid_caller *st;

	if (!sk)
		return NULL;
	st = bpf_sk_storage_get(&sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return NULL;
	quota_give_back(st);
	st->cgroup_id = cgroup_id;
	st->ancestor_cgroup_id[0] = bpf_get_current_ancestor_cgroup_id(c->kubepods_level + 1);
	st->ancestor_cgroup_id[1] = bpf_get_current_ancestor_cgroup_id(c->kubepods_level + 2);
	st->quota_cgroup_id = podid_pod_cgroup(st->ancestor_cgroup_id[0], st->ancestor_cgroup_id[1],
					       c->qos_cgroup_id[0], c->qos_cgroup_id[1], cgroup_id);
	st->netns_cookie = bpf_get_netns_cookie(ctx);
	st->pid_tgid = bpf_get_current_pid_tgid();
	__builtin_memcpy(st->orig_daddr, dst->addr, sizeof(st->orig_daddr));
	st->orig_dport = dst->port;
	st->orig_family = dst->family;
	st->flags = 0;
	st->reserved = 0;
	return st;
}

/* The checks between "this connection is to be redirected" and rewriting it: the caller is recorded, and
 * its pod is not already holding its quota of redirected connections. Returns the syscall verdict to give
 * when refused, or PODID_GO_REDIRECT. */
static __always_inline int admit_redirect(struct bpf_sock_addr *ctx, const struct podid_config *c,
					  const struct podid_target_key *dst, __u64 cgroup_id, __u8 hook)
{
	struct podid_caller *st = record_caller(ctx, c, dst, cgroup_id);

	if (!st)
		return refuse(ctx, dst, cgroup_id, PODID_STAT_DENY_NO_STORAGE, PODID_DENY_NO_STORAGE, hook);
	if (quota_full(c, st->quota_cgroup_id))
		return refuse(ctx, dst, cgroup_id, PODID_STAT_DENY_CONN_QUOTA, PODID_DENY_CONN_QUOTA, hook);
	return PODID_GO_REDIRECT;
}

/* connect to an IPv4 destination, given directly (connect4) or v4-mapped on an AF_INET6 socket
 * (connect6: connect4 does not run for those). */
static __always_inline int connect_v4(struct bpf_sock_addr *ctx, __be32 daddr, int mapped, __u8 hook)
{
	const struct podid_target_value *rule;
	const struct podid_config *c;
	struct podid_target_key dst;
	__u64 cgroup_id;
	int verdict;

	podid_target_key_v4(&dst, podid_target_proto(ctx->protocol), daddr, ctx_dport(ctx));
	rule = target_lookup(&dst);
	if (!rule)
		return SYS_PROCEED;
	verdict = connect_decide(ctx, rule, &dst, &cgroup_id, hook);
	if (verdict != PODID_GO_REDIRECT)
		return verdict;
	c = config_get();
	/* No agent address yet (maps pinned, config not written): refuse rather than let it through. */
	if (!c || !c->agent_ip4)
		return refuse(ctx, &dst, cgroup_id, PODID_STAT_DENY_NO_STORAGE, PODID_DENY_NO_STORAGE, hook);
	verdict = admit_redirect(ctx, c, &dst, cgroup_id, hook);
	if (verdict != PODID_GO_REDIRECT)
		return verdict;
	if (mapped)
		ctx->user_ip6[3] = c->agent_ip4;
	else
		ctx->user_ip4 = c->agent_ip4;
	ctx->user_port = c->agent_port;
	stat_inc(PODID_STAT_REDIRECT);
	return SYS_PROCEED;
}

/* Native IPv6 target (v4-mapped and NAT64 forms are handled by the caller). */
static __always_inline int connect_v6(struct bpf_sock_addr *ctx, __u32 ip6[4])
{
	const struct podid_target_value *rule;
	const struct podid_config *c;
	struct podid_target_key dst;
	__u64 cgroup_id;
	__u8 hook = PODID_HOOK_CONNECT6;
	int verdict;

	podid_target_key_v6(&dst, podid_target_proto(ctx->protocol), ip6, ctx_dport(ctx));
	rule = target_lookup(&dst);
	if (!rule)
		return SYS_PROCEED;
	verdict = connect_decide(ctx, rule, &dst, &cgroup_id, hook);
	if (verdict != PODID_GO_REDIRECT)
		return verdict;
	c = config_get();
	/* No IPv6 agent address configured: there is nowhere safe to send it. */
	if (!c || !(c->agent_ip6[0] | c->agent_ip6[15]))
		return refuse(ctx, &dst, cgroup_id, PODID_STAT_DENY_NO_AGENT6, PODID_DENY_NO_AGENT6, hook);
	verdict = admit_redirect(ctx, c, &dst, cgroup_id, hook);
	if (verdict != PODID_GO_REDIRECT)
		return verdict;
	__builtin_memcpy(ip6, c->agent_ip6, 16);
	ctx->user_ip6[0] = ip6[0];
	ctx->user_ip6[1] = ip6[1];
	ctx->user_ip6[2] = ip6[2];
	ctx->user_ip6[3] = ip6[3];
	ctx->user_port = c->agent_port;
	stat_inc(PODID_STAT_REDIRECT);
	return SYS_PROCEED;
}

/* 64:ff9b::a.b.c.d whose embedded address is a target: refused, never translated to the agent (a NAT64
 * gateway is not where the agent lives). */
static __always_inline int connect_nat64(struct bpf_sock_addr *ctx, __be32 daddr)
{
	const struct podid_target_value *rule;
	struct podid_target_key dst;
	__u64 cgroup_id;

	podid_target_key_v4(&dst, podid_target_proto(ctx->protocol), daddr, ctx_dport(ctx));
	rule = target_lookup(&dst);
	if (!rule || rule->action == PODID_ACTION_ALLOW)
		return SYS_PROCEED;
	cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_is_exempt(cgroup_id))
		return SYS_PROCEED;
	return refuse(ctx, &dst, cgroup_id, PODID_STAT_DENY_NAT64, PODID_DENY_NAT64, PODID_HOOK_CONNECT6);
}

/* Unconnected datagrams: anything but an ALLOW rule refuses them; UDP can never be redirected. */
static __always_inline int sendmsg_check(struct bpf_sock_addr *ctx, const struct podid_target_key *dst,
					 __u8 hook)
{
	const struct podid_target_value *rule = target_lookup(dst);
	__u64 cgroup_id;

	if (!rule || !podid_sendmsg_denied(rule->action))
		return SYS_PROCEED;
	cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_is_exempt(cgroup_id))
		return SYS_PROCEED;
	return refuse(ctx, dst, cgroup_id, PODID_STAT_DENY_SENDMSG, PODID_DENY_SENDMSG, hook);
}

#endif /* PODID_BPF_LIB_IMDS_CONNECT_H */
