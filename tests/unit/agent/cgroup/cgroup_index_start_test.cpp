// SPDX-License-Identifier: Apache-2.0
//
// CgroupIndex::start() refuses what is not a cgroup v2 directory: start-up must fail loudly rather than
// serve an index that never fills. (The index on a real cgroup tree: cgroup_index_cgroup2_test.cpp.)
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "agent/cgroup/cgroup_index.h"

namespace podid::agent {
namespace {

TEST(CgroupIndexStart, RefusesADirectoryOutsideCgroup2) {
  boost::asio::io_context io;
  CgroupIndex index(io.get_executor(), std::filesystem::temp_directory_path());
  Status started = index.start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, std::errc::not_a_directory);
  EXPECT_NE(started.error().message().find("not a cgroup v2 directory"), std::string::npos)
      << started.error().message();
  EXPECT_EQ(index.pod_uid_of(1), std::nullopt);
  EXPECT_EQ(index.stats().pods, 0u);
}

TEST(CgroupIndexStart, RefusesAMissingDirectory) {
  boost::asio::io_context io;
  CgroupIndex index(io.get_executor(), "/nonexistent/podid/kubepods.slice");
  EXPECT_FALSE(index.start().ok());
}

}  // namespace
}  // namespace podid::agent
