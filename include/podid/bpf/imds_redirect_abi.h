/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel <-> user-space ABI of bpf/imds_redirect.bpf.c: map keys and values, stats indexes, event layout.
 *
 * The one definition both sides compile; tests/unit/bpf/abi_layout_test.cpp pins sizes and offsets. Plain
 * C, fixed-width types, explicit padding: the BPF side sees these through <linux/types.h>, user space
 * through the same header. Addresses and ports are kept in network byte order (as the kernel hands them
 * out) so that neither side byte-swaps; every field that is big-endian says so.
 *
 * Pinned maps outlive the agent, so a change to any struct here that alters its size is a new ABI
 * version: bump PODID_ABI_VERSION, which names the pin directory (<bpffs>/podid/v<N>/).
 */
#ifndef PODID_BPF_IMDS_REDIRECT_ABI_H
#define PODID_BPF_IMDS_REDIRECT_ABI_H

#include <linux/types.h>

#define PODID_ABI_VERSION 1

/* Address families as the kernel numbers them (AF_INET, AF_INET6), spelled out so the BPF side need not
 * include socket headers. */
#define PODID_AF_INET 2
#define PODID_AF_INET6 10

/* L4 protocols a target may name; 0 in a target key means "any protocol". */
#define PODID_PROTO_ANY 0
#define PODID_PROTO_TCP 6
#define PODID_PROTO_UDP 17

/* What happens to a connection or datagram whose destination matches a target. */
enum podid_action {
	PODID_ACTION_ALLOW = 0,    /* leave it alone (e.g. Azure DNS on 168.63.129.16:53) */
	PODID_ACTION_REDIRECT = 1, /* TCP: rewrite to the agent and record the caller; anything else: deny */
	PODID_ACTION_DENY = 2,     /* refuse: connect/sendmsg fail with EPERM, packets are dropped */
};

/* targets map key. A lookup tries {proto, port}, {proto, 0}, {0, port}, {0, 0} in that order; the
 * {0, 0} entry exists for every target address (user space guarantees it), so one lookup tells whether
 * an address is a target at all. IPv4 addresses sit in addr[0..3], the rest zero. */
struct podid_target_key {
	__u8 family;   /* PODID_AF_INET or PODID_AF_INET6 */
	__u8 proto;    /* PODID_PROTO_*; 0 = any */
	__be16 port;   /* network order; 0 = any */
	__u8 addr[16]; /* network order */
};

struct podid_target_value {
	__u8 action; /* enum podid_action */
	__u8 flags;  /* reserved, 0 */
	__u16 reserved;
};

/* cfg map, a single entry written by the agent and read by every program call. */
struct podid_config {
	__be32 agent_ip4;    /* redirect address for IPv4 and v4-mapped connects */
	__be16 agent_port;   /* redirect port, network order */
	__u16 kubepods_level; /* depth of the attach cgroup under the v2 root (root = 0) */
	__u8 agent_ip6[16];  /* redirect address for native IPv6 targets; all-zero = deny those instead */
	__u32 generation;    /* bumped by the agent on every write; shows in bpftool dumps */
	__u32 reserved[3];
};

/* The caller as connect4/6 saw it, kept in socket-local storage (sk_state) until sockops copies it. */
struct podid_caller {
	__u64 cgroup_id;              /* the calling task's cgroup v2 id (the container's scope) */
	__u64 ancestor_cgroup_id[2];  /* its ancestors at kubepods_level+1 and +2: one is the pod slice
	                               * (guaranteed pods sit at +1, burstable and besteffort at +2); the
	                               * pod cgroup outlives a short-lived container */
	__u64 netns_cookie;           /* the socket's network namespace */
	__u64 pid_tgid;               /* tgid << 32 | pid of the caller */
	__u8 orig_daddr[16];          /* destination the caller asked for (IPv4 in [0..3]) */
	__be16 orig_dport;
	__u8 orig_family;             /* PODID_AF_* of orig_daddr */
	__u8 pad;
	__u32 reserved;
};

/* conn_ident key: the TCP 4-tuple as the agent sees it at accept(): saddr/sport = the caller (peer),
 * daddr/dport = the agent (local). v4-mapped sockets are folded to PODID_AF_INET so both sides agree. */
struct podid_conn_key {
	__u8 family;
	__u8 pad0;
	__be16 sport;
	__be16 dport;
	__u8 pad1[2];
	__u8 saddr[16];
	__u8 daddr[16];
};

/* conn_ident value: who made the connection, written once at TCP_CONNECT_CB. */
struct podid_conn_ident {
	struct podid_caller caller;
	__u64 sock_cookie; /* the client socket's cookie: TCP_CLOSE deletes only its own entry */
	__u64 created_ns;  /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) at TCP_CONNECT_CB */
	__u16 version;     /* PODID_ABI_VERSION */
	__u16 reserved0;
	__u32 reserved1;
};

/* Index into the per-CPU stats array: one counter per outcome. Names in user space come from
 * podid_stat_name(); keep the two in step (the ABI test checks the count). */
enum podid_stat {
	PODID_STAT_REDIRECT = 0,        /* TCP connect rewritten to the agent */
	PODID_STAT_EXEMPT,              /* target matched, caller's cgroup exempt (the agent itself) */
	PODID_STAT_ALLOW,               /* target matched an ALLOW rule (e.g. WireServer DNS) */
	PODID_STAT_DENY_PORT,           /* connect to a DENY target (other port, WireServer) */
	PODID_STAT_DENY_NON_TCP,        /* connect of a non-TCP socket to a REDIRECT target */
	PODID_STAT_DENY_SENDMSG,        /* unconnected UDP sendmsg to a target */
	PODID_STAT_DENY_NAT64,          /* IPv6 NAT64 form of a target */
	PODID_STAT_DENY_NO_AGENT6,      /* native IPv6 target, no agent IPv6 address configured */
	PODID_STAT_DENY_NO_STORAGE,     /* socket-local storage could not be created: fail closed */
	PODID_STAT_EGRESS_DROP,         /* packet to a target dropped at cgroup egress */
	PODID_STAT_EGRESS_DROP_RAW,     /* ... of which from a SOCK_RAW socket */
	PODID_STAT_CONN_RECORDED,       /* conn_ident entry written at TCP_CONNECT_CB */
	PODID_STAT_CONN_COLLISION,      /* conn_ident already held this tuple (BPF_NOEXIST refused) */
	PODID_STAT_CONN_MAP_FULL,       /* conn_ident full: entry refused, the agent will answer 403 */
	PODID_STAT_CONN_CLOSED,         /* entry deleted at TCP_CLOSE (not consumed by the agent) */
	PODID_STAT_EVENT_DROPPED,       /* ring buffer full: a deny event was lost (the counter was not) */
	PODID_STAT_MAX,
};

/* Why a deny event was raised. */
enum podid_deny_reason {
	PODID_DENY_PORT = 1,
	PODID_DENY_NON_TCP = 2,
	PODID_DENY_SENDMSG = 3,
	PODID_DENY_NAT64 = 4,
	PODID_DENY_NO_AGENT6 = 5,
	PODID_DENY_NO_STORAGE = 6,
	PODID_DENY_EGRESS = 7,
	PODID_DENY_EGRESS_RAW = 8,
};

/* Which program raised it. */
enum podid_hook {
	PODID_HOOK_CONNECT4 = 1,
	PODID_HOOK_CONNECT6 = 2,
	PODID_HOOK_SENDMSG4 = 3,
	PODID_HOOK_SENDMSG6 = 4,
	PODID_HOOK_EGRESS = 5,
};

/* events ring buffer record: one per refusal, for the audit log. */
struct podid_deny_event {
	__u64 ts_ns;        /* bpf_ktime_get_ns() */
	__u64 cgroup_id;    /* caller's cgroup (egress: the socket's cgroup) */
	__u64 netns_cookie; /* 0 where the hook cannot tell (egress) */
	__u64 pid_tgid;     /* 0 where the hook runs outside the caller (egress) */
	__u8 daddr[16];
	__be16 dport;
	__u8 family;
	__u8 proto;
	__u8 reason;        /* enum podid_deny_reason */
	__u8 hook;          /* enum podid_hook */
	__u8 pad[2];
};

#endif /* PODID_BPF_IMDS_REDIRECT_ABI_H */
