// SPDX-License-Identifier: Apache-2.0
//
// What the kubelet's cgroup names say: parse_pod_cgroup_path() and is_qos_cgroup_path() (pod_cgroup_name.h).
// Pure string work, no file system; the layouts are those of pkg/kubelet/cm (cgroup_manager_linux.go,
// qos_container_manager_linux.go) and the runtimes' own container cgroup names.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cgroup/pod_cgroup_name.h"

namespace podid::agent {
namespace {

constexpr std::string_view kSliceSuffix = ".slice";
constexpr std::string_view kScopeSuffix = ".scope";
// The QoS classes that get their own cgroup; guaranteed pods sit right in the kubepods cgroup.
constexpr std::array<std::string_view, 2> kQosClasses = {"burstable", "besteffort"};
// Container cgroup names as the runtimes make them, by cgroup driver. CRI-O's monitor (conmon) gets a
// sibling "crio-conmon-<id>" cgroup: it is runtime plumbing, not the pod's code, and is left out.
constexpr std::string_view kConmonPrefix = "crio-conmon-";
constexpr std::array<std::string_view, 3> kSystemdContainerPrefixes = {"cri-containerd-", "crio-", "docker-"};
constexpr std::string_view kCgroupfsCrioPrefix = "crio-";  // containerd and docker use the bare id
constexpr size_t kContainerIdLength = 64;                  // every CRI runtime: sha256 hex

bool consume_prefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool consume_suffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

char to_lower(char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; }

// Components of a relative path. Leading and trailing slashes are tolerated (callers build these from
// /proc/<pid>/cgroup lines and directory walks); empty, "." and ".." components are not: they mean the
// string is not a path the kubelet made, and ".." could climb out of the pod.
std::optional<std::vector<std::string_view>> split_path(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  std::vector<std::string_view> parts;
  if (path.empty()) return parts;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return std::nullopt;
    parts.push_back(part);
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

// A pod UID as the kubelet wrote it into a cgroup name, in canonical form. API-server pods have an RFC 4122
// UID, which the systemd driver writes with '_' for '-' ('-' separates slice levels there) and the cgroupfs
// driver writes as is. Static pods (manifests on the node) have the kubelet's 32-hex config hash as UID,
// without separators in either driver; it is kept as is (the mirror pod carries it in its
// kubernetes.io/config.hash annotation).
std::optional<std::string> canonical_uid(std::string_view raw, char separator) {
  std::string out;
  if (raw.size() == 32) {
    for (char c : raw) {
      if (!is_hex(c)) return std::nullopt;
      out.push_back(to_lower(c));
    }
    return out;
  }
  if (raw.size() != 36) return std::nullopt;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (raw[i] != separator) return std::nullopt;
      out.push_back('-');
    } else {
      if (!is_hex(raw[i])) return std::nullopt;
      out.push_back(to_lower(raw[i]));
    }
  }
  return out;
}

bool is_container_id(std::string_view id) {
  if (id.size() != kContainerIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The container id in the first cgroup below a pod's, or nullopt (conmon, anything a runtime did not make).
std::optional<std::string> container_id_of(std::string_view name, bool systemd) {
  if (name.starts_with(kConmonPrefix)) return std::nullopt;
  if (systemd) {
    if (!consume_suffix(name, kScopeSuffix)) return std::nullopt;
    bool known = false;
    for (auto prefix : kSystemdContainerPrefixes) {
      if (consume_prefix(name, prefix)) {
        known = true;
        break;
      }
    }
    if (!known) return std::nullopt;
  } else {
    consume_prefix(name, kCgroupfsCrioPrefix);
  }
  if (!is_container_id(name)) return std::nullopt;
  return std::string(name);
}

// Where the pod component is and what its name must look like, from the first component.
struct PodSlot {
  size_t index;             // of the pod component in the path
  std::string_view prefix;  // the pod component minus the UID and suffix
  std::string_view suffix;  // ".slice" (systemd) or empty (cgroupfs)
  char uid_separator;       // how the driver writes the UID's dashes
};

std::optional<PodSlot> locate_pod(const std::vector<std::string_view>& parts, std::string& prefix_storage) {
  std::string_view first = parts[0];
  if (first.ends_with(kSliceSuffix)) {
    // systemd: "kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice" or "kubepods-pod<uid>.slice".
    std::string_view stem = first.substr(0, first.size() - kSliceSuffix.size());
    for (auto qos : kQosClasses) {
      if (stem == std::string("kubepods-").append(qos)) {
        if (parts.size() < 2) return std::nullopt;
        prefix_storage = std::string(stem) + "-pod";
        return PodSlot{1, prefix_storage, kSliceSuffix, '_'};
      }
    }
    return PodSlot{0, "kubepods-pod", kSliceSuffix, '_'};
  }
  // cgroupfs: "<qos>/pod<uid>" or "pod<uid>".
  for (auto qos : kQosClasses) {
    if (first == qos) {
      if (parts.size() < 2) return std::nullopt;
      return PodSlot{1, "pod", "", '-'};
    }
  }
  return PodSlot{0, "pod", "", '-'};
}

}  // namespace

bool is_qos_cgroup_path(std::string_view relative) {
  auto parts = split_path(relative);
  if (!parts || parts->size() != 1) return false;
  std::string_view name = (*parts)[0];
  bool systemd = consume_suffix(name, kSliceSuffix);
  if (systemd && !consume_prefix(name, "kubepods-")) return false;
  for (auto qos : kQosClasses) {
    if (name == qos) return true;
  }
  return false;
}

std::optional<PodCgroupName> parse_pod_cgroup_path(std::string_view relative) {
  auto parts = split_path(relative);
  if (!parts || parts->empty()) return std::nullopt;
  std::string prefix_storage;
  auto slot = locate_pod(*parts, prefix_storage);
  if (!slot) return std::nullopt;

  std::string_view pod = (*parts)[slot->index];
  if (!consume_prefix(pod, slot->prefix) || !consume_suffix(pod, slot->suffix)) return std::nullopt;
  auto uid = canonical_uid(pod, slot->uid_separator);
  if (!uid) return std::nullopt;

  PodCgroupName out{.pod_uid = std::move(*uid), .pod_level = true, .container_id = {}};
  size_t container_index = slot->index + 1;
  if (parts->size() == container_index) return out;
  // Cgroups below the container's (systemd inside a container, a nested runtime) are the same container's.
  auto id = container_id_of((*parts)[container_index], !slot->suffix.empty());
  if (!id) return std::nullopt;
  out.pod_level = false;
  out.container_id = std::move(*id);
  return out;
}

}  // namespace podid::agent
