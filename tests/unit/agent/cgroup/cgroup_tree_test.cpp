// SPDX-License-Identifier: Apache-2.0
// The pure tree behind the cgroup index: what is kept, the two lookups, subtree removal and watch bookkeeping.
#include "agent/cgroup/cgroup_tree.h"

#include <gtest/gtest.h>

namespace podid::agent {
namespace {

const std::string kUid = "0c8f2b3a-1d2e-4f50-8a9b-0123456789ab";
const std::string kPod = "kubepods-burstable.slice/kubepods-burstable-pod0c8f2b3a_1d2e_4f50_8a9b_0123456789ab.slice";
const std::string kContainer = kPod + "/cri-containerd-" + std::string(64, 'a') + ".scope";

// The tree a watcher would build for one burstable pod with one container; ids 1-4, watches 11-14.
CgroupTree one_pod() {
  CgroupTree t;
  CgroupNode root{.kind = CgroupKind::kRoot, .id = 1, .wd = 11};
  t.insert("", root);
  auto qos = CgroupTree::classify(root, "kubepods-burstable.slice");
  qos->id = 2;
  qos->wd = 12;
  const CgroupNode& kept_qos = t.insert("kubepods-burstable.slice", *qos);
  auto pod = CgroupTree::classify(kept_qos, kPod);
  pod->id = 3;
  pod->wd = 13;
  const CgroupNode& kept_pod = t.insert(kPod, *pod);
  auto container = CgroupTree::classify(kept_pod, kContainer);
  container->id = 4;
  container->wd = -1;  // the watch could not be added
  t.insert(kContainer, *container);
  return t;
}

TEST(CgroupTree, ClassifiesWhatTheKubeletLaysOut) {
  CgroupNode root{.kind = CgroupKind::kRoot};
  EXPECT_EQ(CgroupTree::classify(root, "kubepods-burstable.slice")->kind, CgroupKind::kQos);
  EXPECT_EQ(CgroupTree::classify(root, kPod)->kind, CgroupKind::kPod);
  EXPECT_FALSE(CgroupTree::classify(root, "system.slice"));
  CgroupNode pod{.kind = CgroupKind::kPod, .pod_uid = kUid};
  auto container = CgroupTree::classify(pod, kContainer);
  ASSERT_TRUE(container);
  EXPECT_EQ(container->pod_uid, kUid);
  EXPECT_EQ(container->below_pod, 1);
  CgroupNode deep{.kind = CgroupKind::kContainer, .below_pod = CgroupTree::kMaxDepthBelowPod, .pod_uid = kUid};
  EXPECT_FALSE(CgroupTree::classify(deep, kContainer + "/x")) << "deeper than kMaxDepthBelowPod is not kept";
}

TEST(CgroupTree, AnswersPodsAndPathsByCgroupId) {
  CgroupTree t = one_pod();
  EXPECT_EQ(t.pod_uid_of(3), kUid);
  EXPECT_EQ(t.pod_uid_of(4), kUid);
  EXPECT_EQ(t.pod_uid_of(2), std::nullopt) << "a QoS cgroup is no pod's";
  EXPECT_EQ(t.relative_path_of(1), "");
  EXPECT_EQ(t.relative_path_of(4), kContainer);
  EXPECT_EQ(t.pod_cgroups(), 1u);
  EXPECT_EQ(t.container_cgroups(), 1u);
  EXPECT_EQ(t.unwatched(), 1u);
  EXPECT_EQ(t.path_of_watch(13), kPod);
  EXPECT_EQ(t.pod_uids(), std::vector<std::string>{kUid});
}

TEST(CgroupTree, RemovingAPodRemovesItsContainersAndForgetsItsUid) {
  CgroupTree t = one_pod();
  std::vector<uint64_t> dropped;
  t.erase_subtree(kPod, [&](const CgroupNode& n) { dropped.push_back(n.id); });
  EXPECT_EQ(dropped, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(t.pod_uid_of(3), std::nullopt);
  EXPECT_EQ(t.pod_uid_of(4), std::nullopt);
  EXPECT_EQ(t.relative_path_of(4), std::nullopt);
  EXPECT_EQ(t.pod_cgroups(), 0u);
  EXPECT_EQ(t.container_cgroups(), 0u);
  EXPECT_EQ(t.unwatched(), 0u);
  EXPECT_EQ(t.path_of_watch(13), std::nullopt);
  EXPECT_TRUE(t.pod_uids().empty());
  EXPECT_EQ(t.nodes().size(), 2u) << "kubepods and its QoS cgroup stay";
}

TEST(CgroupTree, AWatchAddedLaterIsCounted) {
  CgroupTree t = one_pod();
  t.set_watch(kContainer, 14);
  EXPECT_EQ(t.unwatched(), 0u);
  EXPECT_EQ(t.path_of_watch(14), kContainer);
  t.set_watch(kContainer, -1);
  EXPECT_EQ(t.unwatched(), 1u);
  EXPECT_EQ(t.path_of_watch(14), std::nullopt);
}

TEST(CgroupTree, ASameNamedDirectoryReplacesTheOldOne) {
  CgroupTree t = one_pod();
  auto again = t.nodes().at(kContainer);
  again.id = 40;
  t.insert(kContainer, again);
  EXPECT_EQ(t.pod_uid_of(4), std::nullopt);
  EXPECT_EQ(t.pod_uid_of(40), kUid);
  EXPECT_EQ(t.container_cgroups(), 1u);
}

}  // namespace
}  // namespace podid::agent
