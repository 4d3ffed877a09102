// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/write_limiter.h"

#include <gtest/gtest.h>

namespace podid::controller::kube {
namespace {

using namespace std::chrono_literals;
using TimePoint = WriteLimiter::TimePoint;
const TimePoint t0 = TimePoint{} + 1000h;

struct FixedClock final : SteadyClock {
  TimePoint now() const override { return t0; }
};

TEST(WriteLimiter, ABurstGoesAtOnceThenWritesAreSpacedAtTheRate) {
  FixedClock clock;
  prometheus::Registry registry;
  WriteLimiter limiter(10, 3, clock, registry);  // 10 a second, 3 at once
  EXPECT_EQ(limiter.reserve(t0), t0);
  EXPECT_EQ(limiter.reserve(t0), t0);
  EXPECT_EQ(limiter.reserve(t0), t0);
  EXPECT_EQ(limiter.reserve(t0), t0 + 100ms);
  EXPECT_EQ(limiter.reserve(t0), t0 + 200ms);
  // Idle for a while: the bucket refills, up to the burst.
  EXPECT_EQ(limiter.reserve(t0 + 10s), t0 + 10s);
  EXPECT_EQ(limiter.reserve(t0 + 10s), t0 + 10s);
  EXPECT_EQ(limiter.reserve(t0 + 10s), t0 + 10s);
  EXPECT_EQ(limiter.reserve(t0 + 10s), t0 + 10s + 100ms);
}

TEST(WriteLimiter, ABurstOfOneIsAPlainRate) {
  FixedClock clock;
  prometheus::Registry registry;
  WriteLimiter limiter(2, 1, clock, registry);
  EXPECT_EQ(limiter.reserve(t0), t0);
  EXPECT_EQ(limiter.reserve(t0), t0 + 500ms);
  EXPECT_EQ(limiter.reserve(t0 + 100ms), t0 + 1000ms);
}

}  // namespace
}  // namespace podid::controller::kube
