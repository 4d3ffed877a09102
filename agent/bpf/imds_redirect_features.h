// SPDX-License-Identifier: Apache-2.0
//
// Can this kernel and host run imds_redirect? Checked before loading anything, so that an unsupported node
// refuses to start with a message naming what is missing, instead of failing half-way or failing open.
//
// Errors: each check returns the list of problems found (empty = fine); nothing throws.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace podid::agent {

struct FeatureProblem {
  std::string what;  // "program type cgroup/connect4 (BPF_PROG_TYPE_CGROUP_SOCK_ADDR)"
  std::string why;   // "not supported by this kernel (needs 4.17)" / errno text
};

// Program types, map types and helpers imds_redirect uses (reference: ebpf-kernel-design.md §1.7).
std::vector<FeatureProblem> probe_kernel_features();

// Programs attached without BPF_F_ALLOW_MULTI on `attach_dir` or any ancestor up to `mount` forbid our links
// below them (old Cilium init scripts did this). Each such attachment is a problem naming the cgroup and the
// attach type.
std::vector<FeatureProblem> probe_exclusive_attachments(const std::filesystem::path& mount,
                                                        const std::filesystem::path& attach_dir);

std::string describe(const std::vector<FeatureProblem>& problems);

}  // namespace podid::agent
