// SPDX-License-Identifier: Apache-2.0
#include "http/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podid::http::detail {
namespace {

using Outcome = LineSplitter::Outcome;

struct Collect {
  std::vector<std::string> lines;
  size_t stop_after = SIZE_MAX;
  LineSplitter::OnLine fn() {
    return [this](std::string_view line) {
      lines.emplace_back(line);
      return lines.size() < stop_after;
    };
  }
};

// Every way of cutting the same stream into two pieces yields the same lines.
TEST(LineSplitter, SameLinesWhereverTheStreamIsCut) {
  const std::string stream = "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    LineSplitter s(64);
    Collect c;
    EXPECT_EQ(s.feed(stream.substr(0, cut), c.fn()), Outcome::kMore);
    EXPECT_EQ(s.feed(stream.substr(cut), c.fn()), Outcome::kMore);
    EXPECT_EQ(s.finish(c.fn()), Outcome::kMore);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "", "{\"b\":2}", "{\"c\":3}"})) << "cut at " << cut;
  }
}

TEST(LineSplitter, ByteAtATime) {
  const std::string stream = "one\ntwo\nthree\n";
  LineSplitter s(8);
  Collect c;
  for (char ch : stream) ASSERT_EQ(s.feed(std::string_view(&ch, 1), c.fn()), Outcome::kMore);
  EXPECT_EQ(s.pending_bytes(), 0u);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(LineSplitter, StopsWhenTheConsumerSaysSo) {
  LineSplitter s(64);
  Collect c;
  c.stop_after = 2;
  EXPECT_EQ(s.feed("a\nb\nc\n", c.fn()), Outcome::kStopped);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "b"}));
}

TEST(LineSplitter, LineLimitIsInclusive) {
  {
    LineSplitter s(4);
    Collect c;
    EXPECT_EQ(s.feed("abcd\nab", c.fn()), Outcome::kMore);
    EXPECT_EQ(s.feed("cd\r\n", c.fn()), Outcome::kMore);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"abcd", "abcd"}));
  }
  {
    LineSplitter s(4);
    Collect c;
    EXPECT_EQ(s.feed("abcde\n", c.fn()), Outcome::kTooLong);
    EXPECT_TRUE(c.lines.empty());
  }
  {
    // Without a newline in sight, a line that can no longer fit is refused before it is buffered whole.
    LineSplitter s(4);
    Collect c;
    EXPECT_EQ(s.feed("abc", c.fn()), Outcome::kMore);
    EXPECT_EQ(s.feed("defgh", c.fn()), Outcome::kTooLong);
  }
  {
    LineSplitter s(4);
    Collect c;
    EXPECT_EQ(s.feed("abcde", c.fn()), Outcome::kMore);  // could still be "abcd\r"
    EXPECT_EQ(s.finish(c.fn()), Outcome::kTooLong);
  }
}

}  // namespace
}  // namespace podid::http::detail
