// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/rtnetlink.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace podid::agent::rtnl {

namespace {

// Debian 12's headers have these; spelled out where a libc might not.
#ifndef NETLINK_LISTEN_ALL_NSID
#define NETLINK_LISTEN_ALL_NSID 8
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

constexpr size_t kReceiveBuffer = 64 * 1024;
constexpr int kMonitorSocketBuffer = 8 * 1024 * 1024;  // a burst of pods must not overflow it

// A request under construction: header, fixed part, then attributes, each aligned as netlink wants.
class Message {
 public:
  Message(uint16_t type, uint16_t flags, const void* fixed, size_t fixed_len) {
    buf_.resize(NLMSG_SPACE(fixed_len));
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    std::memcpy(NLMSG_DATA(h), fixed, fixed_len);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    size_t off = buf_.size();
    buf_.resize(off + RTA_SPACE(len));
    auto* a = reinterpret_cast<rtattr*>(buf_.data() + off);
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(a), data, len);
  }
  std::vector<uint8_t> finish() {
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
    return buf_;
  }

 private:
  std::vector<uint8_t> buf_;
};

// The attributes of one message, after its fixed part, by type (later duplicates win; none matter here).
struct Attrs {
  const rtattr* by_type[64] = {};
  Attrs(const void* start, size_t len) {
    for (auto* a = static_cast<const rtattr*>(start); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      uint16_t t = a->rta_type & NLA_TYPE_MASK;
      if (t < 64) by_type[t] = a;
    }
  }
  const rtattr* operator[](int t) const { return by_type[t]; }
};

std::optional<uint32_t> u32_of(const rtattr* a) {
  if (!a || RTA_PAYLOAD(a) < 4) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, RTA_DATA(a), 4);
  return v;
}

std::string string_of(const rtattr* a) {
  if (!a) return {};
  const char* s = static_cast<const char*>(RTA_DATA(a));
  return std::string(s, ::strnlen(s, RTA_PAYLOAD(a)));
}

std::optional<Mac> mac_of(const rtattr* a) {
  if (!a || RTA_PAYLOAD(a) != 6) return std::nullopt;
  Mac m;
  std::memcpy(m.data(), RTA_DATA(a), 6);
  return m;
}

bool addr_of(const rtattr* a, int family, Addr& out) {
  size_t len = family == AF_INET ? 4 : 16;
  if (!a || RTA_PAYLOAD(a) < len) return false;
  out.fill(0);
  std::memcpy(out.data(), RTA_DATA(a), len);
  return true;
}

// Link messages of family AF_UNSPEC only: a bridge also announces its ports' changes (AF_BRIDGE), without
// the link's kind or peer, which would read as "no longer a veth".
std::optional<Link> parse_link(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return std::nullopt;
  auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  if (ifi->ifi_family != AF_UNSPEC) return std::nullopt;
  Attrs a(IFLA_RTA(ifi), IFLA_PAYLOAD(h));
  Link link;
  link.ifindex = static_cast<uint32_t>(ifi->ifi_index);
  link.name = string_of(a[IFLA_IFNAME]);
  link.mac = mac_of(a[IFLA_ADDRESS]);
  link.peer_ifindex = u32_of(a[IFLA_LINK]).value_or(0);
  if (auto nsid = u32_of(a[IFLA_LINK_NETNSID])) link.peer_nsid = static_cast<int32_t>(*nsid);
  if (const rtattr* info = a[IFLA_LINKINFO]) {
    Attrs nested(RTA_DATA(info), RTA_PAYLOAD(info));
    link.kind = string_of(nested[IFLA_INFO_KIND]);
  }
  return link;
}

std::optional<Address> parse_address(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return std::nullopt;
  auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return std::nullopt;
  Attrs a(IFA_RTA(ifa), IFA_PAYLOAD(h));
  Address out{.family = ifa->ifa_family, .ifindex = ifa->ifa_index};
  // IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on point-to-point links).
  const rtattr* addr = ifa->ifa_family == AF_INET && a[IFA_LOCAL] ? a[IFA_LOCAL] : a[IFA_ADDRESS];
  if (!addr_of(addr, ifa->ifa_family, out.addr)) return std::nullopt;
  return out;
}

std::optional<Neighbour> parse_neighbour(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg))) return std::nullopt;
  auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
  Attrs a(reinterpret_cast<const uint8_t*>(nd) + NLMSG_ALIGN(sizeof(ndmsg)),
          h->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
  Neighbour n{.family = nd->ndm_family, .ifindex = static_cast<uint32_t>(nd->ndm_ifindex), .state = nd->ndm_state};
  if (!addr_of(a[NDA_DST], nd->ndm_family, n.addr)) return std::nullopt;
  n.mac = mac_of(a[NDA_LLADDR]);
  return n;
}

// The messages of one type in a dump's replies, parsed; those that do not parse are skipped.
template <class T>
std::vector<T> collect(const std::vector<std::vector<uint8_t>>& replies, uint16_t type,
                       std::optional<T> (*parse)(const nlmsghdr*)) {
  std::vector<T> out;
  for (const auto& r : replies) {
    auto* h = reinterpret_cast<const nlmsghdr*>(r.data());
    if (h->nlmsg_type != type) continue;
    if (auto v = parse(h)) out.push_back(std::move(*v));
  }
  return out;
}

Result<int> open_route_socket(const char* what) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return last_os_error(what);
  return fd;
}

}  // namespace

Result<Socket> Socket::requests() {
  auto fd = open_route_socket("open rtnetlink request socket");
  if (!fd) return fd.error();
  Socket s(*fd);
  int on = 1;
  // Strict checking makes the kernel honour the target namespace of dumps and refuse what it does not know.
  if (::setsockopt(s.fd_, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on)) != 0) {
    return last_os_error("rtnetlink strict checking (needs kernel 4.20)");
  }
  sockaddr_nl local{.nl_family = AF_NETLINK};
  if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return last_os_error("bind rtnetlink");
  return s;
}

Result<Socket> Socket::monitor() {
  auto fd = open_route_socket("open rtnetlink monitor");
  if (!fd) return fd.error();
  Socket s(*fd);
  int on = 1, size = kMonitorSocketBuffer;
  if (::setsockopt(s.fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    ::setsockopt(s.fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));  // without CAP_NET_ADMIN: what is allowed
  }
  if (::setsockopt(s.fd_, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on, sizeof(on)) != 0) {
    return last_os_error("rtnetlink: listen to every namespace (needs kernel 4.7)");
  }
  sockaddr_nl local{.nl_family = AF_NETLINK,
                    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
  if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return last_os_error("bind rtnetlink monitor");
  return s;
}

Socket::Socket(Socket&& other) noexcept : fd_(other.fd_), seq_(other.seq_) { other.fd_ = -1; }

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    seq_ = other.seq_;
    other.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

// Sends msg and collects the replies: every message of a dump until NLMSG_DONE, or the one answer (or the
// acknowledgement) of a request. A dump the kernel interrupted (NLM_F_DUMP_INTR) is redone.
Result<std::vector<std::vector<uint8_t>>> Socket::request(const std::vector<uint8_t>& msg, bool dump) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<uint8_t> out = msg;
    auto* h = reinterpret_cast<nlmsghdr*>(out.data());
    h->nlmsg_seq = ++seq_;
    if (::send(fd_, out.data(), out.size(), 0) < 0) return last_os_error("rtnetlink send");
    std::vector<std::vector<uint8_t>> replies;
    std::vector<uint8_t> buf(kReceiveBuffer);
    bool interrupted = false;
    for (bool done = false; !done;) {
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_os_error("rtnetlink receive");
      }
      size_t len = static_cast<size_t>(n);
      for (auto* r = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
        if (r->nlmsg_seq != seq_) continue;  // a late answer to an earlier request
        if (r->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (r->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (r->nlmsg_type == NLMSG_ERROR) {
          auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(r));
          if (e->error != 0) return os_error(e->error, "rtnetlink request");
          done = true;  // an acknowledgement
          break;
        }
        replies.emplace_back(reinterpret_cast<uint8_t*>(r), reinterpret_cast<uint8_t*>(r) + r->nlmsg_len);
        if (!dump) done = true;
      }
    }
    if (!interrupted) return replies;
  }
  return os_error(EAGAIN, "rtnetlink dump kept being interrupted by changes");
}

Result<std::vector<Link>> Socket::links(std::optional<int32_t> target_nsid) {
  ifinfomsg ifi{.ifi_family = AF_UNSPEC};
  Message m(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
  if (target_nsid) m.attr(IFLA_TARGET_NETNSID, &*target_nsid, sizeof(int32_t));
  auto replies = request(m.finish(), true);
  if (!replies) return replies.error().wrap("list links");
  return collect(*replies, RTM_NEWLINK, parse_link);
}

Result<std::optional<Link>> Socket::link(uint32_t ifindex, std::optional<int32_t> target_nsid) {
  ifinfomsg ifi{.ifi_family = AF_UNSPEC, .ifi_index = static_cast<int>(ifindex)};
  Message m(RTM_GETLINK, 0, &ifi, sizeof(ifi));
  if (target_nsid) m.attr(IFLA_TARGET_NETNSID, &*target_nsid, sizeof(int32_t));
  auto replies = request(m.finish(), false);
  if (!replies) {
    if (replies.error().code.value() == ENODEV) return std::optional<Link>();
    return replies.error().wrap("read link " + std::to_string(ifindex));
  }
  for (const auto& r : *replies) {
    auto* h = reinterpret_cast<const nlmsghdr*>(r.data());
    if (h->nlmsg_type == RTM_NEWLINK) return parse_link(h);
  }
  return std::optional<Link>();
}

Result<std::vector<Address>> Socket::addresses(int family, std::optional<int32_t> target_nsid) {
  ifaddrmsg ifa{.ifa_family = static_cast<uint8_t>(family)};
  Message m(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
  if (target_nsid) m.attr(IFA_TARGET_NETNSID, &*target_nsid, sizeof(int32_t));
  auto replies = request(m.finish(), true);
  if (!replies) return replies.error().wrap("list addresses");
  return collect(*replies, RTM_NEWADDR, parse_address);
}

Result<std::vector<Neighbour>> Socket::neighbours(int family) {
  ndmsg nd{.ndm_family = static_cast<uint8_t>(family)};
  Message m(RTM_GETNEIGH, NLM_F_DUMP, &nd, sizeof(nd));
  auto replies = request(m.finish(), true);
  if (!replies) return replies.error().wrap("list neighbours");
  return collect(*replies, RTM_NEWNEIGH, parse_neighbour);
}

Status Socket::delete_neighbour(const Neighbour& n) {
  ndmsg nd{.ndm_family = static_cast<uint8_t>(n.family), .ndm_ifindex = static_cast<int>(n.ifindex)};
  Message m(RTM_DELNEIGH, NLM_F_ACK, &nd, sizeof(nd));
  m.attr(NDA_DST, n.addr.data(), n.family == AF_INET ? 4 : 16);
  auto replies = request(m.finish(), false);
  if (!replies && replies.error().code.value() != ENOENT) return replies.error().wrap("delete neighbour");
  return {};
}

Result<std::vector<uint32_t>> Socket::default_route_interfaces() {
  std::vector<uint32_t> out;
  for (int family : {AF_INET, AF_INET6}) {
    rtmsg rt{.rtm_family = static_cast<uint8_t>(family)};
    Message m(RTM_GETROUTE, NLM_F_DUMP, &rt, sizeof(rt));
    auto replies = request(m.finish(), true);
    if (!replies) return replies.error().wrap("list routes");
    for (const auto& r : *replies) {
      auto* h = reinterpret_cast<const nlmsghdr*>(r.data());
      if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) continue;
      auto* msg = static_cast<const rtmsg*>(NLMSG_DATA(h));
      if (msg->rtm_dst_len != 0 || msg->rtm_type != RTN_UNICAST) continue;
      Attrs a(RTM_RTA(msg), RTM_PAYLOAD(h));
      uint32_t table = u32_of(a[RTA_TABLE]).value_or(msg->rtm_table);
      if (table != RT_TABLE_MAIN) continue;
      if (auto oif = u32_of(a[RTA_OIF])) out.push_back(*oif);
      if (const rtattr* mp = a[RTA_MULTIPATH]) {
        size_t len = RTA_PAYLOAD(mp);
        for (auto* nh = static_cast<const rtnexthop*>(RTA_DATA(mp)); RTNH_OK(nh, len);
             len -= NLMSG_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh)) {
          out.push_back(static_cast<uint32_t>(nh->rtnh_ifindex));
        }
      }
    }
  }
  return out;
}

Result<std::vector<Event>> Socket::receive() {
  std::vector<uint8_t> buf(kReceiveBuffer);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  iovec iov{.iov_base = buf.data(), .iov_len = buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd_, &msg, 0);
  if (n < 0) return last_os_error("rtnetlink monitor receive");
  std::optional<int32_t> nsid;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID) {
      int32_t id;
      std::memcpy(&id, CMSG_DATA(c), sizeof(id));
      nsid = id;
    }
  }
  std::vector<Event> out;
  size_t len = static_cast<size_t>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    switch (h->nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
        if (auto l = parse_link(h)) {
          out.push_back({h->nlmsg_type == RTM_NEWLINK ? Event::Kind::kNewLink : Event::Kind::kDelLink, nsid,
                         std::move(*l), {}});
        }
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        if (auto a = parse_address(h)) {
          out.push_back({h->nlmsg_type == RTM_NEWADDR ? Event::Kind::kNewAddr : Event::Kind::kDelAddr, nsid, {}, *a});
        }
        break;
    }
  }
  return out;
}

}  // namespace podid::agent::rtnl
