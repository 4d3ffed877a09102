// SPDX-License-Identifier: Apache-2.0
//
// How many connections one key (a pod's UID, a source address) holds at once, with a cap. A slot is taken at
// accept and given back when the last copy of its handle goes (with the connection's handler), so a connection
// can never release a slot twice or keep one after it closed.
//
// Single-threaded: the agent's io thread takes and releases every slot. The counter table must outlive every
// slot it handed out (the admission that owns it outlives the server's sessions).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace podid::agent {

class ConnectionSlots {
 public:
  explicit ConnectionSlots(uint32_t cap) : cap_(cap) {}
  ConnectionSlots(const ConnectionSlots&) = delete;
  ConnectionSlots& operator=(const ConnectionSlots&) = delete;

  // A slot for `key`, or nullptr when the key already holds `cap` connections.
  std::shared_ptr<void> acquire(const std::string& key);

  // Connections `key` holds now (0 for a key never seen or fully released).
  uint32_t held(const std::string& key) const;
  // Keys holding at least one slot.
  size_t keys() const { return held_.size(); }
  uint32_t cap() const { return cap_; }

 private:
  uint32_t cap_;
  std::unordered_map<std::string, uint32_t> held_;
};

}  // namespace podid::agent
