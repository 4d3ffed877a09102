// SPDX-License-Identifier: Apache-2.0
//
// What the kubelet's cgroup names say about pods. Pure; tested on tables of real names.
//
// Layouts (both cgroup drivers, every runtime):
//   systemd:  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/
//               cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope   (crio-conmon-<id>.scope skipped)
//             kubepods.slice/kubepods-pod<uid>.slice/...                           (guaranteed QoS)
//   cgroupfs: kubepods/burstable/pod<uid-with-dashes>/<container id>
//             kubepods/pod<uid>/<container id>
// The pause (sandbox) container is a container like any other.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podid::agent {

struct PodCgroupName {
  // Canonical form: lower-case, with dashes (8-4-4-4-12). Static pods (node manifests) have the kubelet's
  // 32-hex config hash as UID instead; it is kept as is (the mirror pod's kubernetes.io/config.hash).
  std::string pod_uid;
  bool pod_level = false;    // the pod's own cgroup (not a container under it)
  std::string container_id;  // for container-level names; empty for pod level
};

// `relative` is the path below the kubepods cgroup ("kubepods-burstable.slice/kubepods-burstable-pod..slice/
// cri-containerd-...scope" or "burstable/pod.../abc"). nullopt for QoS slices, conmon scopes and anything
// that is not a pod or container cgroup. The path never starts with the kubepods directory's own name.
// Container ids are 64 lower-case hex (every CRI runtime); cgroupfs names are "<id>" (containerd, docker)
// or "crio-<id>" (CRI-O). Anything below a container's cgroup is that container's.
std::optional<PodCgroupName> parse_pod_cgroup_path(std::string_view relative);

// True for a QoS class cgroup right below kubepods ("kubepods-burstable.slice", "besteffort", ...): not a
// pod, but pods live below it.
bool is_qos_cgroup_path(std::string_view relative);

}  // namespace podid::agent
