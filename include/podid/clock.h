// SPDX-License-Identifier: Apache-2.0
//
// Wall-clock time behind an interface, so caches and expiry logic are tested with a fake clock.
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

}  // namespace podid
