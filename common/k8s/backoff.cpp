// SPDX-License-Identifier: Apache-2.0
#include "backoff.h"

#include <algorithm>

namespace podid::k8s::detail {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      current_(initial_),
      rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  auto d = std::min(current_, max_);
  current_ = std::min(current_ * 2, max_);
  std::uniform_int_distribution<int64_t> half(d.count() / 2, d.count());
  return std::chrono::milliseconds(std::max<int64_t>(1, half(rng_)));
}

}  // namespace podid::k8s::detail
