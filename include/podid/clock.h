// SPDX-License-Identifier: Apache-2.0
//
// Time behind interfaces, so caches, expiry logic and latencies are tested with a fake clock: WallClock for
// timestamps written out, SteadyClock for durations and deadlines.
#pragma once

#include <chrono>

namespace podid {

class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemWallClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

class SteadyClock {
 public:
  virtual ~SteadyClock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SystemSteadyClock final : public SteadyClock {
 public:
  std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace podid
