// SPDX-License-Identifier: Apache-2.0
// The /proc and cgroupfs readers' parsing, on text as the kernel writes it and as it must never be misread.
#include "agent/cgroup/proc_text.h"

#include <gtest/gtest.h>

namespace podid::agent::detail {
namespace {

constexpr const char* kHybridMountinfo =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "26 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n";

TEST(ProcText, Cgroup2MountOfAHybridHost) {
  EXPECT_EQ(cgroup2_mount_in_mountinfo(kHybridMountinfo), "/sys/fs/cgroup/unified");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("22 28 0:21 / /sys rw - sysfs sysfs rw\n"), std::nullopt);
}

TEST(ProcText, Cgroup2MountPrefersTheHierarchyRootAndDecodesEscapes) {
  EXPECT_EQ(cgroup2_mount_in_mountinfo("35 26 0:33 /kubepods /mnt/a rw - cgroup2 cgroup2 rw\n"
                                       "36 26 0:33 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n"),
            "/mnt/with space");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("35 26 0:33 /kubepods /mnt/a rw - cgroup2 cgroup2 rw\n"), "/mnt/a");
}

// Found by tests/fuzz (proc_files): a backslash not followed by three octal digits made std::stoi throw out of
// find_cgroup2_mount, which runs at start-up and promises not to throw. The kernel writes only \ooo; anything
// else is kept as written.
TEST(ProcText, ABackslashThatIsNoEscapeIsKeptNotThrown) {
  EXPECT_EQ(cgroup2_mount_in_mountinfo("27 26 0:25 / /x\\ysz rw - cgroup2 cgroup2 rw\n"), "/x\\ysz");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("27 26 0:25 / /x\\189 rw - cgroup2 cgroup2 rw\n"), "/x\\189");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("27 26 0:25 / /x\\-12 rw - cgroup2 cgroup2 rw\n"), "/x\\-12");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("27 26 0:25 / /x\\ rw - cgroup2 cgroup2 rw\n"), "/x\\");
  EXPECT_EQ(cgroup2_mount_in_mountinfo("27 26 0:25 / /x\\134y rw - cgroup2 cgroup2 rw\n"), "/x\\y");
}

TEST(ProcText, UnifiedCgroupPath) {
  EXPECT_EQ(unified_cgroup_path_in("12:cpu:/a\n0::/kubepods.slice/x.scope\n"), "/kubepods.slice/x.scope");
  EXPECT_EQ(unified_cgroup_path_in("12:cpu:/a\n1:name=systemd:/b\n"), std::nullopt);
}

TEST(ProcText, ProcsListContains) {
  EXPECT_TRUE(procs_list_contains("1\n4711\n", 4711));
  EXPECT_FALSE(procs_list_contains("1\n47110\n", 4711));
  EXPECT_FALSE(procs_list_contains("", 4711));
}

}  // namespace
}  // namespace podid::agent::detail
