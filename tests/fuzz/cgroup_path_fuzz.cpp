// SPDX-License-Identifier: Apache-2.0
//
// cgroup path names below the kubepods cgroup (agent/cgroup/pod_cgroup_name.h), as the agent reads them from the
// cgroup tree and from inotify. A pod can name the cgroups it creates below its own (cgroup namespaces with a
// writable cgroupfs), so these are not the kubelet's alone. Input: the relative path.
//
// Properties: a pod UID is canonical (lower-case 8-4-4-4-12 hex, or a static pod's 32-hex config hash); a
// container id is 64 lower-case hex and present exactly for container-level names; a QoS cgroup is not a pod;
// a path with an empty, `.` or `..` component names nothing.
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/cgroup/pod_cgroup_name.h"
#include "fuzz_check.h"

namespace {

bool lower_hex(std::string_view s) { return s.find_first_not_of("0123456789abcdef") == std::string_view::npos; }

bool canonical_uid(std::string_view uid) {
  if (uid.size() == 32) return lower_hex(uid);
  if (uid.size() != 36) return false;
  for (size_t i = 0; i < uid.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (uid[i] == '-')) return false;
    if (!dash && !lower_hex(uid.substr(i, 1))) return false;
  }
  return true;
}

bool has_bad_component(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return true;
    if (slash == std::string_view::npos) return false;
    start = slash + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view path(reinterpret_cast<const char*>(data), size);
  auto name = podid::agent::parse_pod_cgroup_path(path);
  bool qos = podid::agent::is_qos_cgroup_path(path);
  if (!name) return 0;
  FUZZ_CHECK(!qos, "a QoS cgroup read as a pod");
  FUZZ_CHECK(!has_bad_component(path), "a path with an empty, . or .. component names a pod");
  FUZZ_CHECK(canonical_uid(name->pod_uid), "a pod UID that is not canonical");
  FUZZ_CHECK(name->pod_level == name->container_id.empty(), "a container id on a pod-level name, or none below it");
  if (!name->pod_level) {
    FUZZ_CHECK(name->container_id.size() == 64 && lower_hex(name->container_id), "a container id that is not 64 hex");
  }
  return 0;
}
