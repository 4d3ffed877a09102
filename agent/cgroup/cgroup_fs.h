// SPDX-License-Identifier: Apache-2.0
//
// The cgroup v2 file system as the agent needs it: where it is mounted, a directory's cgroup id, how deep it
// sits (for bpf_get_current_ancestor_cgroup_id), and the agent's own cgroup.
//
// Errors: Result<T> (podid/result.h), errno plus context. Nothing here throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "podid/result.h"

namespace podid::agent {

// The cgroup2 mount this process sees. Hosts differ: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified
// on hybrid ones, anything in a container that bind-mounts the host's. The first cgroup2 entry of
// /proc/self/mountinfo wins, preferring one whose mount root is the hierarchy's root.
Result<std::filesystem::path> find_cgroup2_mount();

// True if `dir` is on a cgroup2 file system (statfs magic), the only kind BPF programs attach to.
bool is_cgroup2_dir(const std::filesystem::path& dir);

// The cgroup id the kernel uses for `dir` (bpf_get_current_cgroup_id and friends): the kernfs node id, which
// is the directory's inode number on 64-bit kernels from 5.5.
Result<uint64_t> cgroup_id_of(const std::filesystem::path& dir);

// Depth of `dir` below the root of the cgroup v2 hierarchy (root = 0), the "level" that
// bpf_get_current_ancestor_cgroup_id takes. Refuses when `mount` is not the hierarchy's root (a cgroup2
// mounted inside a private cgroup namespace), where the depth cannot be known: mount the host's.
Result<int> cgroup_level(const std::filesystem::path& mount, const std::filesystem::path& dir);

// The cgroup id of the calling process's own cgroup, right whichever cgroup namespace it runs in.
//
// With the host cgroup namespace, /proc/self/cgroup's "0::<path>" is relative to the hierarchy root and
// mount + path is our directory. With a private one (the default for containers on cgroup v2), that path is
// relative to the namespace root, which the host's mount does not show; then a child process mounts a
// fresh cgroup2 (whose root is the namespace root) in a private mount namespace and stats the path there.
// Either way the answer is only accepted if that directory's cgroup.procs lists `pid`. Call before
// starting threads: the second method forks.
Result<uint64_t> self_cgroup_id(const std::filesystem::path& mount, pid_t pid);

// The "0::<path>" entry of /proc/<pid>/cgroup.
Result<std::string> unified_cgroup_path_of(pid_t pid);

}  // namespace podid::agent
