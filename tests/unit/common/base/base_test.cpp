// SPDX-License-Identifier: Apache-2.0
// What both binaries share before anything else: podid's error category, small-file reading, start refusals.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "podid/error.h"
#include "podid/read_file.h"
#include "podid/startup.h"

namespace podid {
namespace {

TEST(ErrorCategory, CodesMatchTheConditionsCallersTest) {
  EXPECT_EQ(invalid_argument("x").code, std::errc::invalid_argument);
  EXPECT_EQ(malformed("x").code, std::errc::bad_message);
  EXPECT_EQ(make_error(Errc::kRefused, "x").code, std::errc::permission_denied);
  EXPECT_EQ(make_error(Errc::kUnavailable, "x").code, std::errc::io_error);
  EXPECT_EQ(make_error(Errc::kNotSupported, "x").code, std::errc::not_supported);
  EXPECT_NE(malformed("x").code, std::errc::invalid_argument);
  // Still podid's own codes: a caller can tell them from the kernel's.
  EXPECT_EQ(invalid_argument("x").code.category().name(), std::string("podid"));
  EXPECT_EQ(invalid_argument("bad tenant").message(), "bad tenant: invalid argument");
}

class ReadFileTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("podid-base-" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(ReadFileTest, ReadsWholeAndTrims) {
  std::ofstream(dir / "token") << "  abc.def \n";
  auto text = read_file(dir / "token");
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text, "  abc.def \n");
  EXPECT_EQ(trim(*text), "abc.def");
}

TEST_F(ReadFileTest, MissingAndHugeFilesAreErrorsNamingThePath) {
  auto missing = read_file(dir / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos);
  std::filesystem::resize_file((std::ofstream(dir / "big"), dir / "big"), 5 * 1024 * 1024);
  auto big = read_file(dir / "big");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, std::errc::file_too_large);
}

TEST(RefuseStart, SaysWhyOnStderrAndReturnsOne) {
  ::testing::internal::CaptureStderr();
  int status = refuse_start("podid-test", "no kubepods cgroup");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_NE(err.find("podid-test: no kubepods cgroup"), std::string::npos) << err;
  EXPECT_NE(err.find("\"reason\":\"no kubepods cgroup\""), std::string::npos) << err;
}

}  // namespace
}  // namespace podid
