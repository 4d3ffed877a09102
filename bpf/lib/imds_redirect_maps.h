/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of imds_redirect. All are pinned by the agent under <bpffs>/podid/v<ABI>/maps/<name> so that they,
 * and the links that use them, outlive the agent: a dead agent leaves the node failing closed.
 * Sizes are load-time settings (bpf_map__set_max_entries), not #defines.
 */
#ifndef PODID_BPF_LIB_IMDS_REDIRECT_MAPS_H
#define PODID_BPF_LIB_IMDS_REDIRECT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "podid/bpf/imds_redirect_abi.h"

/* u32 0 -> podid_config. Written by the agent at start; read by every program call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct podid_config);
} cfg SEC(".maps");

/* podid_target_key -> podid_target_value. Written by the agent (IMDS redirect, WireServer deny, ...);
 * read by connect4/6, sendmsg4/6 and egress. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct podid_target_key);
	__type(value, struct podid_target_value);
} targets SEC(".maps");

/* cgroup id -> flags (reserved). Written by the agent (its own cgroup); read by connect4/6, egress, the
 * uplink program and setsockopt:
 * members reach targets untouched, which is how the agent's own upstream calls get to the real IMDS. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
} exempt_cgroups SEC(".maps");

/* socket -> podid_caller. Written by connect4/6 (the only place that runs in the caller's context on
 * every kernel we support); read by sockops at TCP_CONNECT_CB. Freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct podid_caller);
} sk_state SEC(".maps");

/* podid_conn_key -> podid_conn_ident. Written by sockops at TCP_CONNECT_CB (BPF_NOEXIST), deleted by
 * sockops at TCP_CLOSE; consumed (looked up and deleted) by the agent at accept(). A plain HASH, not an
 * LRU: an LRU would evict live entries under a flood; a full HASH refuses new ones, which the agent
 * answers with 403 (fail closed) and the stats count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct podid_conn_key);
	__type(value, struct podid_conn_ident);
} conn_ident SEC(".maps");

/* pod cgroup id (podid_caller.quota_cgroup_id) -> s64 redirected connections it holds open. Written by
 * sockops (+1 at TCP_CONNECT_CB, -1 at TCP_CLOSE of the same socket), read by connect4/6 to refuse early;
 * the agent deletes entries back at zero. Signed: a slot given back after its entry was collected cannot
 * wrap a count around to "full". */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __s64);
} conn_quota SEC(".maps");

/* host-side ifindex -> podid_pod_iface. Written by the agent (an interface appears: PENDING; its peer's
 * MAC and addresses read: KNOWN; it goes: deleted); read by the pod interface program on every frame. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct podid_pod_iface);
} pod_ifaces SEC(".maps");

/* podid_iface_addr -> u8 (1). Written by the agent from the peer namespace's addresses; read by the pod
 * interface program for every IP source, ARP sender and advertised ND target. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct podid_iface_addr);
	__type(value, __u8);
} pod_addrs SEC(".maps");

/* u32 0 -> podid_uplinks. Written by the agent once it knows the uplinks; read by pre-routing. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct podid_uplinks);
} uplinks SEC(".maps");

/* podid_event_limit_key -> ns of the last deny event sent. Written and read by emit_deny only. An LRU: losing
 * an entry only lets one more event through. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct podid_event_limit_key);
	__type(value, __u64);
} event_limit SEC(".maps");

/* enum podid_stat -> u64 per CPU. Written by every program; summed by the agent for its metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PODID_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* podid_deny_event records. Written on every refusal; read by the agent's audit log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

#endif /* PODID_BPF_LIB_IMDS_REDIRECT_MAPS_H */
