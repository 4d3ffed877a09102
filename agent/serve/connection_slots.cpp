// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/connection_slots.h"

namespace podid::agent {
namespace {

// Gives its slot back when destroyed; never copied, so never given back twice.
class Slot {
 public:
  Slot(std::unordered_map<std::string, uint32_t>& held, std::string key) : held_(held), key_(std::move(key)) {}
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() {
    auto it = held_.find(key_);
    if (it != held_.end() && --it->second == 0) held_.erase(it);
  }

 private:
  std::unordered_map<std::string, uint32_t>& held_;
  std::string key_;
};

}  // namespace

std::shared_ptr<void> ConnectionSlots::acquire(const std::string& key) {
  uint32_t& count = held_[key];
  if (count >= cap_) {
    if (count == 0) held_.erase(key);  // cap 0: nothing is ever held
    return nullptr;
  }
  ++count;
  return std::make_shared<Slot>(held_, key);
}

uint32_t ConnectionSlots::held(const std::string& key) const {
  auto it = held_.find(key);
  return it == held_.end() ? 0 : it->second;
}

}  // namespace podid::agent
