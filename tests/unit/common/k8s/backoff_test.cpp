// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "k8s/backoff.h"

namespace podid::k8s::detail {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesWithJitterUpToTheMaximum) {
  Backoff b(100ms, 1000ms, 42);
  const std::chrono::milliseconds ceilings[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (auto ceiling : ceilings) {
    auto d = b.next();
    EXPECT_GE(d, ceiling / 2);
    EXPECT_LE(d, ceiling);
  }
  b.reset();
  EXPECT_LE(b.next(), 100ms);
}

TEST(Backoff, JitterSpreadsTheDelays) {
  // Two agents with different seeds, cut off at the same moment, should not retry in lockstep.
  Backoff a(1000ms, 30000ms, 1), b(1000ms, 30000ms, 2);
  int same = 0;
  for (int i = 0; i < 8; ++i) same += a.next() == b.next();
  EXPECT_LT(same, 8);
}

}  // namespace
}  // namespace podid::k8s::detail
