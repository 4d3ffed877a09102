// SPDX-License-Identifier: Apache-2.0
//
// parse_pod_cgroup_path() and is_qos_cgroup_path() on tables of names as kubelets and runtimes make them,
// for both cgroup drivers, and on names that must not be taken for a pod.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/cgroup/pod_cgroup_name.h"

namespace podid::agent {
namespace {

// A pod UID as the API server hands them out, and as each driver writes it.
const std::string kUid = "8e5a2f3c-1b7d-4e0a-9c6f-2d4b8a1e7f35";
const std::string kUidSystemd = "8e5a2f3c_1b7d_4e0a_9c6f_2d4b8a1e7f35";
// A static pod's UID: the kubelet's hash of the manifest.
const std::string kStaticUid = "3f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d";
// Container ids: sha256 hex, as containerd, CRI-O and docker make them.
const std::string kC1 = "4f0b6c1d2e3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";
const std::string kC2 = "a91c0e3b7d5f2a8c4e6b1d9f3a7c5e2b8d4f6a1c3e9b5d7f2a4c8e6b0d1f3a5c";

struct Case {
  std::string name;  // what the row shows, for the failure message
  std::string path;
  std::optional<PodCgroupName> want;
};

PodCgroupName pod(const std::string& uid) { return {.pod_uid = uid, .pod_level = true, .container_id = {}}; }
PodCgroupName container(const std::string& uid, const std::string& id) {
  return {.pod_uid = uid, .pod_level = false, .container_id = id};
}

void expect_table(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": \"" + c.path + "\"");
    auto got = parse_pod_cgroup_path(c.path);
    ASSERT_EQ(got.has_value(), c.want.has_value());
    if (!got) continue;
    EXPECT_EQ(got->pod_uid, c.want->pod_uid);
    EXPECT_EQ(got->pod_level, c.want->pod_level);
    EXPECT_EQ(got->container_id, c.want->container_id);
  }
}

TEST(ParsePodCgroupPath, SystemdDriver) {
  const std::string burstable = "kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd + ".slice";
  const std::string besteffort = "kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice";
  const std::string guaranteed = "kubepods-pod" + kUidSystemd + ".slice";
  expect_table({
      {"burstable pod", burstable, pod(kUid)},
      {"besteffort pod", besteffort, pod(kUid)},
      {"guaranteed pod", guaranteed, pod(kUid)},
      {"containerd", burstable + "/cri-containerd-" + kC1 + ".scope", container(kUid, kC1)},
      {"cri-o", besteffort + "/crio-" + kC2 + ".scope", container(kUid, kC2)},
      {"docker (cri-dockerd)", guaranteed + "/docker-" + kC1 + ".scope", container(kUid, kC1)},
      {"guaranteed containerd", guaranteed + "/cri-containerd-" + kC2 + ".scope", container(kUid, kC2)},
      {"systemd inside a container", burstable + "/cri-containerd-" + kC1 + ".scope/init.scope", container(kUid, kC1)},
      {"deeper still", burstable + "/cri-containerd-" + kC1 + ".scope/system.slice/nginx.service",
       container(kUid, kC1)},
      {"static pod", "kubepods-burstable.slice/kubepods-burstable-pod" + kStaticUid + ".slice", pod(kStaticUid)},
      {"upper-case UID canonicalised", "kubepods-pod8E5A2F3C_1B7D_4E0A_9C6F_2D4B8A1E7F35.slice", pod(kUid)},
      {"leading and trailing slash", "/" + guaranteed + "/", pod(kUid)},
  });
}

TEST(ParsePodCgroupPath, CgroupfsDriver) {
  const std::string burstable = "burstable/pod" + kUid;
  expect_table({
      {"burstable pod", burstable, pod(kUid)},
      {"besteffort pod", "besteffort/pod" + kUid, pod(kUid)},
      {"guaranteed pod", "pod" + kUid, pod(kUid)},
      {"containerd / docker", burstable + "/" + kC1, container(kUid, kC1)},
      {"cri-o", "besteffort/pod" + kUid + "/crio-" + kC2, container(kUid, kC2)},
      {"guaranteed container", "pod" + kUid + "/" + kC2, container(kUid, kC2)},
      {"nested below a container", "pod" + kUid + "/" + kC2 + "/inner", container(kUid, kC2)},
      {"static pod", "pod" + kStaticUid + "/" + kC1, container(kStaticUid, kC1)},
      {"upper-case UID canonicalised", "pod8E5A2F3C-1B7D-4E0A-9C6F-2D4B8A1E7F35", pod(kUid)},
  });
}

TEST(ParsePodCgroupPath, NotAPodOrContainer) {
  const std::string sd_pod = "kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd + ".slice";
  const std::string fs_pod = "burstable/pod" + kUid;
  expect_table({
      {"kubepods itself", "", std::nullopt},
      {"just a slash", "/", std::nullopt},
      {"systemd QoS", "kubepods-burstable.slice", std::nullopt},
      {"systemd QoS", "kubepods-besteffort.slice", std::nullopt},
      {"cgroupfs QoS", "burstable", std::nullopt},
      {"cgroupfs QoS", "besteffort", std::nullopt},
      {"path includes kubepods.slice", "kubepods.slice/" + sd_pod, std::nullopt},
      {"path includes kubepods", "kubepods/" + fs_pod, std::nullopt},
      {"cri-o conmon", sd_pod + "/crio-conmon-" + kC1 + ".scope", std::nullopt},
      {"below cri-o conmon", sd_pod + "/crio-conmon-" + kC1 + ".scope/inner", std::nullopt},
      {"cgroupfs conmon", fs_pod + "/crio-conmon-" + kC1, std::nullopt},
      {"systemd name with dashed UID", "kubepods-pod" + kUid + ".slice", std::nullopt},
      {"cgroupfs name with underscored UID", "pod" + kUidSystemd, std::nullopt},
      {"pod slice under the wrong QoS", "kubepods-burstable.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice",
       std::nullopt},
      {"guaranteed name under a QoS slice", "kubepods-burstable.slice/kubepods-pod" + kUidSystemd + ".slice",
       std::nullopt},
      {"pod slice without .slice", "kubepods-pod" + kUidSystemd, std::nullopt},
      {"pod slice with another suffix", "kubepods-pod" + kUidSystemd + ".scope", std::nullopt},
      {"cgroupfs pod name with .slice", "pod" + kUid + ".slice", std::nullopt},
      {"cgroupfs pod under a systemd QoS", "kubepods-burstable.slice/pod" + kUid, std::nullopt},
      {"no guaranteed QoS cgroup", "kubepods-guaranteed.slice/kubepods-guaranteed-pod" + kUidSystemd + ".slice",
       std::nullopt},
      {"UID too short", "pod8e5a2f3c-1b7d-4e0a-9c6f-2d4b8a1e7f3", std::nullopt},
      {"UID too long", "pod8e5a2f3c-1b7d-4e0a-9c6f-2d4b8a1e7f350", std::nullopt},
      {"UID not hex", "pod8e5a2f3c-1b7d-4e0a-9c6f-2d4b8a1e7f3g", std::nullopt},
      {"UID separator misplaced", "pod8e5a2f3c1-b7d-4e0a-9c6f-2d4b8a1e7f35", std::nullopt},
      {"static UID not hex", "pod3f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8z", std::nullopt},
      {"empty UID", "pod", std::nullopt},
      {"systemd container without .scope", sd_pod + "/cri-containerd-" + kC1, std::nullopt},
      {"cgroupfs container with .scope", fs_pod + "/" + kC1 + ".scope", std::nullopt},
      {"unknown runtime", sd_pod + "/libpod-" + kC1 + ".scope", std::nullopt},
      {"container id too short", fs_pod + "/" + kC1.substr(1), std::nullopt},
      {"container id upper-case", fs_pod + "/4F0B6C1D2E3A4B5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C",
       std::nullopt},
      {"container id not hex", fs_pod + "/" + kC1.substr(1) + "x", std::nullopt},
      {"dot-dot climbing out", fs_pod + "/" + kC1 + "/..", std::nullopt},
      {"dot-dot into another pod", fs_pod + "/../pod" + kUid, std::nullopt},
      {"dot component", fs_pod + "/./" + kC1, std::nullopt},
      {"empty component", fs_pod + "//" + kC1, std::nullopt},
      {"unrelated cgroup", "system.slice/containerd.service", std::nullopt},
  });
}

TEST(IsQosCgroupPath, Table) {
  for (const char* yes :
       {"kubepods-burstable.slice", "kubepods-besteffort.slice", "burstable", "besteffort", "/burstable/"}) {
    EXPECT_TRUE(is_qos_cgroup_path(yes)) << yes;
  }
  for (const char* no :
       {"", "kubepods.slice", "kubepods", "kubepods-guaranteed.slice", "guaranteed", "burstable.slice",
        "kubepods-burstable", "kubepods-burstable.scope", "burstable/pod8e5a2f3c-1b7d-4e0a-9c6f-2d4b8a1e7f35",
        "../burstable", "kubepods-burstable-pod8e5a2f3c_1b7d_4e0a_9c6f_2d4b8a1e7f35.slice"}) {
    EXPECT_FALSE(is_qos_cgroup_path(no)) << no;
  }
}

}  // namespace
}  // namespace podid::agent
