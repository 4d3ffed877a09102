// SPDX-License-Identifier: Apache-2.0
//
// Retry delays for the Reflector: doubling from `initial` up to `max`, each delay drawn at random from its
// upper half so that the agents of a whole cluster, cut off together, do not come back in step.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace podid::k8s::detail {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed);

  // The delay before the next attempt, in [d/2, d] where d doubles on every call up to max.
  std::chrono::milliseconds next();
  // After a success: the next failure waits about `initial` again.
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
  std::mt19937_64 rng_;
};

}  // namespace podid::k8s::detail
