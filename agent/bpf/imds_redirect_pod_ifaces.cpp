// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_pod_ifaces.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "podid/log.h"

namespace podid::agent {

namespace {

std::string mac_text(const rtnl::Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

std::string addr_text(int family, const rtnl::Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, a.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace

PodInterfaceWatcher::PodInterfaceWatcher(HostHooks& hooks, std::vector<std::string> prefixes)
    : hooks_(hooks), prefixes_(std::move(prefixes)) {}

PodInterfaceWatcher::~PodInterfaceWatcher() { stop(); }

bool PodInterfaceWatcher::is_pod_interface(const rtnl::Link& link) const {
  if (link.kind != "veth" && link.kind != "netkit") return false;
  if (!link.peer_nsid || hooks_.uplinks().count(link.ifindex)) return false;
  if (prefixes_.empty()) return true;
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [&](const std::string& p) { return link.name.rfind(p, 0) == 0; });
}

Status PodInterfaceWatcher::start() {
  // The monitor first: a change between the first read and the monitor's birth would be lost otherwise.
  auto monitor = rtnl::Socket::monitor();
  if (!monitor) return monitor.error();
  monitor_ = std::move(*monitor);
  auto requests = rtnl::Socket::requests();
  if (!requests) return requests.error();
  requests_ = std::move(*requests);
  if (auto st = resync(); !st) return st.error();
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) return last_os_error("eventfd");
  thread_ = std::thread([this] { run(); });
  return {};
}

void PodInterfaceWatcher::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof(one)) < 0) log::warn("could not wake the pod interface watcher", {});
    thread_.join();
  }
  if (stop_fd_ >= 0) {
    ::close(stop_fd_);
    stop_fd_ = -1;
  }
}

// Reads every link of the node; covers every pod interface, then learns each (so no pod can poison a
// neighbour entry between another's repair and its own cover); forgets what is gone.
Status PodInterfaceWatcher::resync() {
  auto links = requests_.links();
  if (!links) return links.error();
  std::set<uint32_t> live;
  for (const auto& link : *links) {
    if (!is_pod_interface(link)) continue;
    live.insert(link.ifindex);
    track(link, false);
  }
  for (uint32_t ifindex : live) {
    if (auto st = learn(ifindex); !st) hooks_.count_error("learn", st.error());
  }
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    uint32_t ifindex = (it++)->first;
    if (!live.count(ifindex)) untrack(ifindex);
  }
  hooks_.sweep(live);
  return {};
}

// A pod interface seen (again): covered once, learned every time, since its peer may have changed (the CNI
// moves a veth's end into the pod's namespace after creating it).
void PodInterfaceWatcher::track(const rtnl::Link& link, bool learn_now) {
  auto [it, fresh] = tracked_.try_emplace(link.ifindex);
  if (!fresh) by_peer_.erase({it->second.nsid, it->second.peer_ifindex});
  it->second = Tracked{.name = link.name, .nsid = *link.peer_nsid, .peer_ifindex = link.peer_ifindex};
  by_peer_[{it->second.nsid, it->second.peer_ifindex}] = link.ifindex;
  if (fresh) {
    if (auto st = hooks_.cover(link.ifindex, link.name); !st) {
      hooks_.count_error("attach", st.error());
      return;
    }
  }
  if (!learn_now) return;
  if (auto st = learn(link.ifindex); !st) hooks_.count_error("learn", st.error());
}

void PodInterfaceWatcher::untrack(uint32_t ifindex) {
  auto it = tracked_.find(ifindex);
  if (it == tracked_.end()) return;
  by_peer_.erase({it->second.nsid, it->second.peer_ifindex});
  tracked_.erase(it);
  hooks_.forget(ifindex);
}

// The pod behind ifindex, read from its own namespace: the peer's MAC and the addresses on it.
Status PodInterfaceWatcher::learn(uint32_t ifindex) {
  const Tracked& t = tracked_.at(ifindex);
  auto peer = requests_.link(t.peer_ifindex, t.nsid);
  if (!peer) return peer.error().wrap("read the peer of " + t.name);
  if (!*peer || !(*peer)->mac) return {};  // gone meanwhile, or no MAC yet: stays pending, its removal follows
  std::vector<rtnl::Address> mine;
  for (int family : {AF_INET, AF_INET6}) {
    auto addresses = requests_.addresses(family, t.nsid);
    if (!addresses) return addresses.error().wrap("read the addresses of the peer of " + t.name);
    for (const auto& a : *addresses) {
      if (a.ifindex == t.peer_ifindex) mine.push_back(a);
    }
  }
  if (auto st = hooks_.learn(ifindex, *(*peer)->mac, t.peer_ifindex, mine); !st) return st.error();
  repair_neighbours(*(*peer)->mac, mine);
  return {};
}

// A neighbour entry of the node that maps one of the pod's addresses to another MAC was poisoned before the
// interface's link held (a pod created while no agent ran): remove it, the kernel asks again, and only the
// pod can answer now.
void PodInterfaceWatcher::repair_neighbours(const rtnl::Mac& mac, const std::vector<rtnl::Address>& addresses) {
  if (addresses.empty()) return;
  for (int family : {AF_INET, AF_INET6}) {
    auto neighbours = requests_.neighbours(family);
    if (!neighbours) {
      hooks_.count_error("neighbours", neighbours.error());
      continue;
    }
    for (const auto& n : *neighbours) {
      if (!n.mac || *n.mac == mac) continue;
      if (n.state & (NUD_NOARP | NUD_PERMANENT | NUD_INCOMPLETE | NUD_FAILED)) continue;
      bool owned = std::any_of(addresses.begin(), addresses.end(), [&](const rtnl::Address& a) {
        return a.family == n.family && a.addr == n.addr;
      });
      if (!owned) continue;
      log::warn("neighbour entry pointed a pod's address at another MAC; removed",
                {{"audit", true}, {"address", addr_text(n.family, n.addr)}, {"mac", mac_text(*n.mac)},
                 {"pod_mac", mac_text(mac)}});
      if (auto st = requests_.delete_neighbour(n); !st) hooks_.count_error("neighbours", st.error());
    }
  }
}

void PodInterfaceWatcher::on_event(const rtnl::Event& ev) {
  using Kind = rtnl::Event::Kind;
  if (!ev.nsid) {  // the node's own namespace: its links
    if (ev.kind == Kind::kDelLink) {
      untrack(ev.link.ifindex);
    } else if (ev.kind == Kind::kNewLink) {
      auto it = tracked_.find(ev.link.ifindex);
      if (!is_pod_interface(ev.link)) {
        untrack(ev.link.ifindex);  // no longer one (its peer came back, or it was renamed out of the prefixes)
      } else if (it == tracked_.end() || it->second.nsid != *ev.link.peer_nsid ||
                 it->second.peer_ifindex != ev.link.peer_ifindex) {
        track(ev.link, true);
      }
    }
    return;
  }
  // A pod's namespace: its interface or its addresses changed.
  uint32_t peer_ifindex = ev.kind == Kind::kNewLink || ev.kind == Kind::kDelLink ? ev.link.ifindex : ev.address.ifindex;
  auto it = by_peer_.find({*ev.nsid, peer_ifindex});
  if (it == by_peer_.end()) return;
  if (auto st = learn(it->second); !st) hooks_.count_error("learn", st.error());
}

void PodInterfaceWatcher::run() {
  pollfd fds[2] = {{.fd = monitor_.fd(), .events = POLLIN}, {.fd = stop_fd_, .events = POLLIN}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      hooks_.set_watcher_failed("poll: " + std::string(std::strerror(errno)));
      return;
    }
    if (fds[1].revents) return;
    auto events = monitor_.receive();
    if (!events) {
      int err = events.error().code.value();
      if (err == EINTR) continue;
      if (err == ENOBUFS) {
        // Notifications were lost: read everything afresh.
        hooks_.count_error("netlink", events.error());
        if (auto st = resync(); !st) hooks_.count_error("netlink", st.error());
        continue;
      }
      hooks_.set_watcher_failed(events.error().message());
      hooks_.count_error("netlink", events.error());
      return;
    }
    for (const auto& ev : *events) on_event(ev);
  }
}

Result<HostHookSet> start_host_hooks(ImdsRedirectProbe& probe, const PinLayout& pins, const HostHookSupport& support,
                                     const HostHookOptions& options, prometheus::Registry& registry) {
  HostHookSet set;
  set.hooks = std::make_unique<HostHooks>(probe, pins, support, registry);
  if (auto st = set.hooks->attach_prerouting(); !st) return st.error();
  auto rtnl = rtnl::Socket::requests();
  if (!rtnl) return rtnl.error();
  if (auto st = set.hooks->attach_uplinks(*rtnl, options.uplinks); !st) return st.error();
  if (support.tcx) {
    set.watcher = std::make_unique<PodInterfaceWatcher>(*set.hooks, options.pod_interface_prefixes);
    if (auto st = set.watcher->start(); !st) return st.error().wrap("follow pod interfaces");
  }
  return set;
}

}  // namespace podid::agent
