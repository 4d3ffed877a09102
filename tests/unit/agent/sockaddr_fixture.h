// SPDX-License-Identifier: Apache-2.0
//
// Socket addresses for tests of code that reads a connection's peer (the attributor, admission).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace podid::testing {

inline sockaddr_storage v4(const char* addr, uint16_t port) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, addr, &a->sin_addr);
  return ss;
}

inline sockaddr_storage v6(const char* addr, uint16_t port) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  inet_pton(AF_INET6, addr, &a->sin6_addr);
  return ss;
}

}  // namespace podid::testing
