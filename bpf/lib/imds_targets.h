/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Target lookup: the map side of podid/bpf/imds_redirect_match.h's candidate order. */
#ifndef PODID_BPF_LIB_IMDS_TARGETS_H
#define PODID_BPF_LIB_IMDS_TARGETS_H

#include "podid/bpf/imds_redirect_match.h"
#include "imds_redirect_maps.h"

/* Returns the rule for dst, or NULL if dst's address is no target. The presence marker {any, any} is
 * tried first: on the hot path (an address that is no target) this is the only lookup. */
static __always_inline const struct podid_target_value *target_lookup(const struct podid_target_key *dst)
{
	struct podid_target_key key;
	const struct podid_target_value *marker, *v;

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

	podid_target_candidate(&key, dst, 3);
	return bpf_map_lookup_elem(&targets, &key) != NULL;
}

static __always_inline int cgroup_is_exempt(__u64 cgroup_id)
{
	return bpf_map_lookup_elem(&exempt_cgroups, &cgroup_id) != NULL;
}

static __always_inline const struct podid_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cfg, &zero);
}

#endif /* PODID_BPF_LIB_IMDS_TARGETS_H */
