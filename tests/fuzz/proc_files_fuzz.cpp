// SPDX-License-Identifier: Apache-2.0
//
// The /proc and cgroupfs files the agent reads (agent/cgroup/proc_text.h): /proc/self/mountinfo (where cgroup2
// is mounted), /proc/<pid>/cgroup (a process's cgroup) and cgroup.procs (who is in a cgroup). Input: a file's
// text, read as each of the three.
//
// Properties: nothing throws (these run at start-up, where a throw aborts the agent); a mount point found is a
// cgroup2 line's, non-empty; a cgroup path found follows "0::" at the start of a line; a pid is found in
// cgroup.procs only when the text holds it as a number.
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/cgroup/proc_text.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace podid::agent::detail;
  try {
    if (auto mount = cgroup2_mount_in_mountinfo(text)) {
      FUZZ_CHECK(!mount->empty(), "an empty cgroup2 mount point");
      // Fields are whitespace-separated (the kernel writes one space; more is read alike).
      FUZZ_CHECK(text.find("cgroup2") != std::string_view::npos, "a mount point without a cgroup2 line");
    }
    if (auto path = unified_cgroup_path_in(text)) {
      FUZZ_CHECK(text.starts_with("0::") || text.find("\n0::") != std::string_view::npos, "a path without a 0:: line");
      FUZZ_CHECK(path->find('\n') == std::string::npos, "a path running over its line");
    }
    if (procs_list_contains(text, 4711)) {
      FUZZ_CHECK(text.find("4711") != std::string_view::npos, "a pid found that the text does not hold");
    }
  } catch (const std::exception& e) {
    podid::fuzz::check_failed("a /proc reader threw", e.what(), __FILE__, __LINE__);
  }
  return 0;
}
