/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel <-> user-space ABI of bpf/imds_redirect.bpf.c: map keys and values, stats indexes, event layout.
 *
 * The one definition both sides compile; tests/unit/bpf/abi_layout_test.cpp pins sizes and offsets. Plain
 * C, fixed-width types, explicit padding: the BPF side sees these through <linux/types.h>, user space
 * through the same header. Addresses and ports are kept in network byte order (as the kernel hands them
 * out) so that neither side byte-swaps; every field that is big-endian says so.
 *
 * Pinned maps outlive the agent, so a change to any struct here that alters its size, or to the number of
 * stats, is a new ABI version: bump PODID_ABI_VERSION, which names the pin directory (<bpffs>/podid/v<N>/).
 * An agent of version N takes the node over from one of an older version: it attaches its own links first,
 * then removes the older version's pins (imds_redirect_probe.h).
 */
#ifndef PODID_BPF_IMDS_REDIRECT_ABI_H
#define PODID_BPF_IMDS_REDIRECT_ABI_H

#include <linux/types.h>

#define PODID_ABI_VERSION 2

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

/* The IPv4 target addresses listed in the config (Azure has two): a packet to no target, nearly every packet a
 * frame hook sees, is told apart by a few compares instead of a hash lookup. */
#define PODID_TARGET_IP4_MAX 8
#define PODID_TARGET_IP4_MANY 0xffffffffu

/* cfg map, a single entry written by the agent and read by every program call. */
struct podid_config {
	__be32 agent_ip4;           /* redirect address for IPv4 and v4-mapped connects */
	__be16 agent_port;          /* redirect port, network order */
	__u16 kubepods_level;       /* depth of the attach cgroup under the v2 root (root = 0) */
	__u8 agent_ip6[16];         /* redirect address for native IPv6 targets; all-zero = deny those instead */
	__u32 generation;           /* bumped by the agent on every write; shows in bpftool dumps */
	__u32 conn_quota;           /* redirected connections one pod may hold open at once; 0 = no limit */
	__u64 kubepods_cgroup_id;   /* the attach cgroup: at the uplink, frames of sockets below it are pods' */
	__u64 qos_cgroup_id[2];     /* the burstable and besteffort QoS cgroups: their children are pods */
	__be32 target_ip4[PODID_TARGET_IP4_MAX]; /* every IPv4 address in targets, for a check with no hash */
	__u32 target_ip4_count;     /* how many of target_ip4 are set; PODID_TARGET_IP4_MANY: too many to list,
	                             * look every IPv4 address up in targets */
	__u32 reserved;
};

/* The caller as connect4/6 saw it, kept in socket-local storage (sk_state) until sockops copies it. */
struct podid_caller {
	__u64 cgroup_id;              /* the calling task's cgroup v2 id (the container's scope) */
	__u64 ancestor_cgroup_id[2];  /* its ancestors at kubepods_level+1 and +2: one is the pod slice
	                               * (guaranteed pods sit at +1, burstable and besteffort at +2); the
	                               * pod cgroup outlives a short-lived container */
	__u64 netns_cookie;           /* the socket's network namespace */
	__u64 pid_tgid;               /* tgid << 32 | pid of the caller */
	__u64 quota_cgroup_id;        /* the pod's cgroup as conn_quota counts it (podid_pod_cgroup()) */
	__u8 orig_daddr[16];          /* destination the caller asked for (IPv4 in [0..3]) */
	__be16 orig_dport;
	__u8 orig_family;             /* PODID_AF_* of orig_daddr */
	__u8 flags;                   /* PODID_CALLER_* */
	__u32 reserved;
};

/* podid_caller.flags: the socket holds one of its pod's conn_quota slots, given back at TCP_CLOSE. */
#define PODID_CALLER_COUNTED 1

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
	PODID_STAT_CONN_OVER_QUOTA,     /* redirected connection past its pod's quota: not recorded (403) */
	PODID_STAT_DENY_CONN_QUOTA,     /* connect refused: the pod already holds its quota of connections */
	PODID_STAT_QUOTA_MAP_FULL,      /* conn_quota could not count another pod: connection not recorded */
	PODID_STAT_PREROUTING_DROP,     /* packet received by the node for a target, dropped at pre-routing */
	PODID_STAT_IFACE_TARGET_DROP,   /* frame from a pod's interface to a target */
	PODID_STAT_IFACE_UNKNOWN,       /* frame from a pod interface whose pod's addresses are not known yet */
	PODID_STAT_SPOOF_MAC,           /* frame from a pod interface with another Ethernet source */
	PODID_STAT_SPOOF_ARP,           /* ARP whose sender (MAC or IPv4) is not the pod */
	PODID_STAT_SPOOF_IP,            /* IPv4/IPv6 packet whose source is not one of the pod's addresses */
	PODID_STAT_SPOOF_ND,            /* IPv6 neighbour discovery claiming another's address or MAC */
	PODID_STAT_ETHERTYPE_DROP,      /* frame neither IPv4, IPv6 nor ARP (or malformed) from a pod */
	PODID_STAT_UPLINK_DROP,         /* frame of a pod's socket leaving the uplink to a target */
	PODID_STAT_DENY_SOCKOPT,        /* setsockopt refused: PACKET_QDISC_BYPASS or AF_XDP from a pod */
	PODID_STAT_EVENT_SUPPRESSED,    /* deny event not sent: the same source and reason sent one just now */
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
	PODID_DENY_CONN_QUOTA = 9,      /* the pod holds its quota of redirected connections */
	PODID_DENY_PREROUTING = 10,     /* a packet for a target reached the node (raw frames from a pod) */
	PODID_DENY_IFACE_TARGET = 11,   /* a frame for a target, seen on the pod's interface */
	PODID_DENY_IFACE_UNKNOWN = 12,  /* the pod's interface is not known yet */
	PODID_DENY_SPOOF_MAC = 13,
	PODID_DENY_SPOOF_ARP = 14,
	PODID_DENY_SPOOF_IP = 15,
	PODID_DENY_SPOOF_ND = 16,
	PODID_DENY_ETHERTYPE = 17,
	PODID_DENY_UPLINK = 18,         /* a pod's packet socket sending to a target out of the uplink */
	PODID_DENY_SOCKOPT = 19,        /* PACKET_QDISC_BYPASS (skips the uplink's hook) or AF_XDP */
};

/* Which program raised it. */
enum podid_hook {
	PODID_HOOK_CONNECT4 = 1,
	PODID_HOOK_CONNECT6 = 2,
	PODID_HOOK_SENDMSG4 = 3,
	PODID_HOOK_SENDMSG6 = 4,
	PODID_HOOK_EGRESS = 5,
	PODID_HOOK_SOCKOPS = 6,
	PODID_HOOK_PREROUTING = 7,      /* netfilter pre-routing in the node's namespace */
	PODID_HOOK_POD_IFACE = 8,       /* tcx ingress of a pod's host-side interface */
	PODID_HOOK_UPLINK = 9,          /* tcx egress of the node's uplink */
	PODID_HOOK_SETSOCKOPT = 10,
};

/* events ring buffer record: one per refusal, for the audit log; at most one per source and reason every
 * PODID_EVENT_INTERVAL_NS (the stats count every refusal). */
struct podid_deny_event {
	__u64 ts_ns;        /* bpf_ktime_get_ns() */
	__u64 cgroup_id;    /* caller's cgroup (egress, uplink: the socket's); 0 where no socket is known */
	__u64 netns_cookie; /* 0 where the hook cannot tell (egress, frame hooks) */
	__u64 pid_tgid;     /* 0 where the hook runs outside the caller (egress, frame hooks) */
	__u8 daddr[16];     /* destination (IPv4 in [0..3]); ARP: the target's protocol address */
	__u8 saddr[16];     /* frame hooks: the source the frame claimed (ARP: the sender's); else zero */
	__u8 smac[6];       /* frame hooks: the Ethernet source (ARP: the sender hardware address) */
	__be16 dport;
	__u32 ifindex;      /* frame hooks: the interface the frame came in by (pre-routing, pod) or left by */
	__u8 family;
	__u8 proto;
	__u8 reason;        /* enum podid_deny_reason */
	__u8 hook;          /* enum podid_hook */
};

#define PODID_EVENT_INTERVAL_NS 100000000ull /* 100 ms */

/* event_limit key: one deny event per source (cgroup, or interface for frame hooks) and reason per
 * interval, so a flood of refused frames costs a counter increment each, not a ring buffer record. */
struct podid_event_limit_key {
	__u64 source;
	__u8 reason;
	__u8 hook;
	__u8 pad[6];
};

/* pod_ifaces value, keyed by the host-side interface's ifindex: what the agent learned from the interface's
 * peer (the pod's eth0, in the pod's network namespace). Until state is PODID_IFACE_KNOWN every frame from
 * the interface is dropped. */
struct podid_pod_iface {
	__u8 mac[6];        /* the peer's MAC: the only Ethernet source and ARP sender the pod may use */
	__u8 state;         /* PODID_IFACE_* */
	__u8 pad;
	__u32 peer_ifindex; /* the pod's eth0 in its namespace (diagnostics) */
	__be32 ip4;         /* one of the pod's IPv4 addresses (0: none), checked before pod_addrs: the usual
	                     * case, one address, costs no second lookup per packet */
	__u32 reserved;
};

/* uplinks value (a single entry): the node's uplinks. Packets received on one come from the cloud's network,
 * never from a pod, so pre-routing lets them pass unread. Unused slots are 0. */
#define PODID_UPLINKS_MAX 4
struct podid_uplinks {
	__u32 ifindex[PODID_UPLINKS_MAX];
};

#define PODID_IFACE_PENDING 0 /* attached; the pod's addresses not learned yet */
#define PODID_IFACE_KNOWN 1

/* pod_addrs key: one address the pod behind ifindex owns (its peer interface's addresses, IPv6 link-local
 * included). Value: a u8, 1. */
struct podid_iface_addr {
	__u32 ifindex;
	__u8 family;        /* PODID_AF_INET or PODID_AF_INET6 */
	__u8 pad[3];
	__u8 addr[16];      /* network order; IPv4 in [0..3] */
};

#endif /* PODID_BPF_IMDS_REDIRECT_ABI_H */
