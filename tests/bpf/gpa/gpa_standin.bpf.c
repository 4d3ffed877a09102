// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A stand-in for Azure's Guest Proxy Agent (Metadata Security Protocol) in the tests: a cgroup/connect4
 * program at the root of the node's cgroups that sends metadata-service connections to a local proxy
 * (127.0.0.1:3080 on Azure; here the port the test chose, from the proxy map), skipping the proxy's own (GPA
 * skips by PID; this by cgroup, from the skip map).
 * Used by tests/e2e/agent/test_guest_proxy_agent.py to show podid's program on kubepods runs first.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* cgroup id -> 1: callers left alone (the proxy). Written by the test with bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u64);
	__type(value, __u32);
} skip_cgroups SEC(".maps");

/* 0 -> the proxy's port (host order). Written by the test with bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} proxy SEC(".maps");

/* 0 -> connections redirected to the proxy. Read by the test. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} redirected SEC(".maps");

SEC("cgroup/connect4")
int gpa_connect4(struct bpf_sock_addr *ctx)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	__u32 zero = 0, *port;
	__u64 *count;

	if (ctx->user_ip4 != bpf_htonl(0xa9fea9fe) || ctx->user_port != bpf_htons(80))
		return 1;
	if (bpf_map_lookup_elem(&skip_cgroups, &cgroup_id))
		return 1;
	port = bpf_map_lookup_elem(&proxy, &zero);
	if (!port || !*port)
		return 1;
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons((__u16)*port);
	count = bpf_map_lookup_elem(&redirected, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
