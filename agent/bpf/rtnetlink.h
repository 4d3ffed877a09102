// SPDX-License-Identifier: Apache-2.0
//
// The little of rtnetlink the host hooks need: the node's links, a pod's interface and addresses read from
// the node through the pod's namespace id (IFLA_/IFA_TARGET_NETNSID, kernel 4.20), the node's neighbour
// entries and default routes, and a monitor of link and address changes in the node's namespace and in every
// namespace that has an id in it (NETLINK_LISTEN_ALL_NSID), which is every pod's behind a veth.
//
// Errors: Result<T> with errno and context; nothing throws. Not thread-safe: one owner per Socket.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "podid/result.h"

namespace podid::agent::rtnl {

using Mac = std::array<uint8_t, 6>;
using Addr = std::array<uint8_t, 16>;  // IPv4 in [0..3]

struct Link {
  uint32_t ifindex = 0;
  std::string name;
  std::string kind;                  // IFLA_INFO_KIND: "veth", "bridge", "dummy", ... ("" if none)
  uint32_t peer_ifindex = 0;         // IFLA_LINK: a veth's other end, in peer_nsid's namespace
  std::optional<int32_t> peer_nsid;  // IFLA_LINK_NETNSID: set when the other end is in another namespace
  std::optional<Mac> mac;
};

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  uint32_t ifindex = 0;
  Addr addr{};
};

struct Neighbour {
  int family = 0;
  uint32_t ifindex = 0;
  Addr addr{};
  std::optional<Mac> mac;
  uint16_t state = 0;  // NUD_*
};

// One change seen by a monitor. nsid is the namespace it happened in, as an id of the node's namespace;
// empty for the node's own namespace.
struct Event {
  enum class Kind { kNewLink, kDelLink, kNewAddr, kDelAddr } kind;
  std::optional<int32_t> nsid;
  Link link;        // kNewLink, kDelLink
  Address address;  // kNewAddr, kDelAddr
};

class Socket {
 public:
  // A request socket (dumps and gets, strict checking on), or a monitor of links and IPv4/IPv6 addresses in
  // this and every identified namespace.
  static Result<Socket> requests();
  static Result<Socket> monitor();

  Socket() = default;  // closed until assigned one of the above

  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  int fd() const { return fd_; }

  // Requests. target_nsid reads another namespace (one with an id in ours) instead of our own.
  Result<std::vector<Link>> links(std::optional<int32_t> target_nsid = std::nullopt);
  Result<std::optional<Link>> link(uint32_t ifindex, std::optional<int32_t> target_nsid = std::nullopt);
  Result<std::vector<Address>> addresses(int family, std::optional<int32_t> target_nsid = std::nullopt);
  Result<std::vector<Neighbour>> neighbours(int family);
  Status delete_neighbour(const Neighbour& n);
  // Interfaces that carry a default route (IPv4 or IPv6) in the main table.
  Result<std::vector<uint32_t>> default_route_interfaces();

  // Monitor: the changes read by one recvmsg (blocking unless the fd is non-blocking). ENOBUFS means events
  // were lost: the caller must read everything afresh.
  Result<std::vector<Event>> receive();

 private:
  explicit Socket(int fd) : fd_(fd) {}
  Result<std::vector<std::vector<uint8_t>>> request(const std::vector<uint8_t>& msg, bool dump);

  int fd_ = -1;
  uint32_t seq_ = 0;
};

}  // namespace podid::agent::rtnl
