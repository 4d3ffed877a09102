// SPDX-License-Identifier: Apache-2.0
#include "controller/state/interned.h"

#include <unordered_map>

namespace podid::controller {

Interned intern(std::string_view value) {
  static std::unordered_map<std::string, std::weak_ptr<const std::string>> pool;
  static std::size_t sweep_at = 1024;
  auto it = pool.find(std::string(value));
  if (it != pool.end()) {
    if (auto held = it->second.lock()) return held;
  }
  auto fresh = std::make_shared<const std::string>(value);
  pool.insert_or_assign(std::string(value), fresh);
  // Values nobody holds any more are dropped once the pool has doubled since the last sweep.
  if (pool.size() >= sweep_at) {
    std::erase_if(pool, [](const auto& entry) { return entry.second.expired(); });
    sweep_at = std::max<std::size_t>(1024, 2 * pool.size());
  }
  return fresh;
}

}  // namespace podid::controller
