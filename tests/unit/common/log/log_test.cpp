// SPDX-License-Identifier: Apache-2.0
#include "podid/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "capture_stderr.h"

using podid::testing_support::capture_stderr;

TEST(Log, OneJsonObjectPerLineWithTheFields) {
  auto out = capture_stderr([] { podid::log::warn("token decision", {{"audit", true}, {"pod", "web-0"}, {"n", 3}}); });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["msg"], "token decision");
  EXPECT_EQ(line["audit"], true);
  EXPECT_EQ(line["pod"], "web-0");
  EXPECT_EQ(line["n"], 3);
  EXPECT_TRUE(line["ts"].is_number_float());
}

TEST(Log, NoFieldsAndInvalidUtf8StillMakeValidJson) {
  auto out = capture_stderr([] {
    podid::log::error("bad \xff byte");
    podid::log::error("path", {{"cgroup_path", std::string("/x/\xfe")}});
  });
  auto first = out.substr(0, out.find('\n'));
  auto second = out.substr(out.find('\n') + 1);
  EXPECT_EQ(nlohmann::json::parse(first)["level"], "error");
  EXPECT_TRUE(nlohmann::json::parse(second)["cgroup_path"].is_string());
}

TEST(Log, LinesBelowTheMinimumLevelAreDropped) {
  podid::log::set_min_level(podid::log::Level::kWarn);
  auto out = capture_stderr([] { podid::log::info("quiet"); });
  podid::log::set_min_level(podid::log::Level::kInfo);
  EXPECT_TRUE(out.empty()) << out;
}

TEST(Log, MembersAreSplicedIntoTheLine) {
  auto out = capture_stderr([] { podid::log::write_members(podid::log::Level::kWarn, "m", R"("a":1,"b":"x")"); });
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["a"], 1);
  EXPECT_EQ(line["b"], "x");
  EXPECT_EQ(line["msg"], "m");
  auto bare = capture_stderr([] { podid::log::write_members(podid::log::Level::kWarn, "m", ""); });
  EXPECT_EQ(nlohmann::json::parse(bare)["msg"], "m");
}

TEST(Log, ParseLevelKnowsTheFourLevelsOnly) {
  EXPECT_EQ(podid::log::parse_level("debug"), podid::log::Level::kDebug);
  EXPECT_EQ(podid::log::parse_level("error"), podid::log::Level::kError);
  EXPECT_FALSE(podid::log::parse_level("Error"));
  EXPECT_FALSE(podid::log::parse_level(""));
}

TEST(Log, ThrottleLetsAFewLinesThroughPerSecondAndCountsTheRest) {
  podid::log::Throttle throttle(3);
  int let_through = 0;
  uint64_t reported = 0;
  for (int i = 0; i < 1000; ++i) {
    if (auto dropped = throttle.admit()) {
      ++let_through;
      reported += *dropped;
    }
  }
  // Within one second: 3 lines (a second boundary in the loop allows at most 3 more), none reporting drops yet.
  EXPECT_GE(let_through, 3);
  EXPECT_LE(let_through, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto next = throttle.admit();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(reported + *next, 1000u - static_cast<uint64_t>(let_through)) << "every dropped line is reported once";
}

TEST(Log, MessagesWithQuotesControlsOrNonAsciiAreEscaped) {
  for (std::string msg : {std::string("say \"hi\""), std::string("back\\slash"), std::string("line\nbreak\t"),
                          std::string("caf\xc3\xa9"), std::string("plain message")}) {
    auto out = capture_stderr([&] { podid::log::warn(msg); });
    EXPECT_EQ(nlohmann::json::parse(out)["msg"], msg) << out;
  }
}

TEST(Log, TimestampIsSecondsSinceTheEpochToTheMicrosecond) {
  auto before = std::chrono::system_clock::now();
  auto out = capture_stderr([] { podid::log::warn("t"); });
  auto after = std::chrono::system_clock::now();
  auto seconds = [](auto t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); };
  double ts = nlohmann::json::parse(out)["ts"];
  EXPECT_GE(ts, seconds(before) - 1e-6);
  EXPECT_LE(ts, seconds(after) + 1e-6);
  EXPECT_EQ(out.substr(out.find('.') + 1, 7).find_first_not_of("0123456789"), 6u) << out;  // six digits
}
