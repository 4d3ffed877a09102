// SPDX-License-Identifier: Apache-2.0
//
// The text of the /proc and cgroupfs files the agent reads, parsed: pure functions on what a read returned, so
// that the fuzz targets and tests reach them without the files. cgroup_fs.cpp reads the files.
//
// Errors: none; each answers nullopt / false for text that does not say what is asked. Nothing throws.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace podid::agent::detail {

// The mount point of the first cgroup2 entry of /proc/<pid>/mountinfo text, preferring one whose mount root is
// the hierarchy's root ("/"); the mount point as the kernel wrote it, \ooo escapes decoded.
std::optional<std::string> cgroup2_mount_in_mountinfo(std::string_view mountinfo);

// The path of the "0::<path>" (cgroup v2) line of /proc/<pid>/cgroup text.
std::optional<std::string> unified_cgroup_path_in(std::string_view proc_cgroup);

// Whether cgroup.procs text (one pid per line) lists `pid`.
bool procs_list_contains(std::string_view cgroup_procs, pid_t pid);

}  // namespace podid::agent::detail
