/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Target lookup: the map side of podid/bpf/imds_redirect_match.h's candidate order. */
#ifndef PODID_BPF_LIB_IMDS_TARGETS_H
#define PODID_BPF_LIB_IMDS_TARGETS_H

#include "podid/bpf/imds_redirect_match.h"
#include "imds_redirect_maps.h"

static __always_inline const struct podid_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cfg, &zero);
}

/* 0 when dst's address is surely no target, from the config's list of IPv4 targets: the hot path (nearly
 * every packet) costs an array lookup the verifier inlines and a few compares, no hash. */
static __always_inline int target_maybe(const struct podid_target_key *dst)
{
	const struct podid_config *c;
	__be32 ip4;

	if (dst->family != PODID_AF_INET)
		return 1;
	c = config_get();
	if (!c)
		return 1;
	__builtin_memcpy(&ip4, dst->addr, sizeof(ip4));
	return podid_ip4_maybe_target(c, ip4);
}

/* Returns the rule for dst, or NULL if dst's address is no target. The presence marker {any, any} is
 * tried first: for an address that is no target this is the only lookup (none for a listed IPv4 one). */
static __always_inline const struct podid_target_value *target_lookup(const struct podid_target_key *dst)
{
	struct podid_target_key key;
	const struct podid_target_value *marker, *v;

	if (!target_maybe(dst))
		return NULL;
	podid_target_candidate(&key, dst, 3);
	marker = bpf_map_lookup_elem(&targets, &key);
	if (!marker)
		return NULL;
	/* Unrolled by hand: three fixed candidates, no loop for the verifier to bound. */
	podid_target_candidate(&key, dst, 0);
	v = bpf_map_lookup_elem(&targets, &key);
	if (v)
		return v;
	podid_target_candidate(&key, dst, 1);
	v = bpf_map_lookup_elem(&targets, &key);
	if (v)
		return v;
	podid_target_candidate(&key, dst, 2);
	v = bpf_map_lookup_elem(&targets, &key);
	if (v)
		return v;
	return marker;
}

/* Whether dst's address is a target at all (its presence marker): one lookup, whatever proto and port say,
 * for hooks where reading the port costs more than this lookup. */
static __always_inline int target_address(const struct podid_target_key *dst)
{
	struct podid_target_key key;

	if (!target_maybe(dst))
		return 0;
	podid_target_candidate(&key, dst, 3);
	return bpf_map_lookup_elem(&targets, &key) != NULL;
}

static __always_inline int cgroup_is_exempt(__u64 cgroup_id)
{
	return bpf_map_lookup_elem(&exempt_cgroups, &cgroup_id) != NULL;
}

#endif /* PODID_BPF_LIB_IMDS_TARGETS_H */
