// SPDX-License-Identifier: Apache-2.0
//
// The frame hooks of imds_redirect, in the node's network namespace: the hooks for what no cgroup program
// sees (AF_PACKET frames, raw IP from a pod's namespace), and the links that hold them.
//
//   prerouting4/6  netfilter pre-routing (6.4+): every packet the node receives, from any interface, a new
//                  one included from its first frame; a packet for a target is dropped.
//   pod_<ifindex>  tcx ingress on each pod's host-side interface (6.6+): the pod sends only as itself.
//   uplink_<ifindex> tcx egress on each uplink (6.6+): a pod's packet socket never reaches a target.
//
// Each is a pinned link under <pins>/links, like the cgroup programs': nothing is detached when the agent
// stops, and an agent starting again takes the links over (tcx: the program swapped in place; netfilter,
// whose links cannot swap programs: a new link pinned over the old one, both attached for that instant).
// Which pod interface holds which addresses is written by PodInterfaceWatcher through this class.
//
// Thread-safe: the watcher's thread writes, readiness and metrics read.
//
// Errors: Result/Status with errno and context; failures are also counted and logged once each.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/bpf/imds_redirect_links.h"
#include "agent/bpf/imds_redirect_probe.h"
#include "agent/bpf/rtnetlink.h"
#include "podid/result.h"

namespace podid::agent {

// What one hook is doing: shown by /readyz and the podid_bpf_host_hook metric.
struct HookState {
  std::string name;    // "prerouting_ipv4", "prerouting_ipv6", "pod_interfaces", "uplink"
  bool active = false;
  std::string detail;  // how (link ids, interfaces) or why not
};

// What a pod interface is known to hold, for audit lines.
struct PodInterface {
  uint32_t ifindex = 0;
  std::string name;
  std::optional<rtnl::Mac> mac;  // empty while pending
  std::vector<std::string> addresses;
};

class HostHooks {
 public:
  HostHooks(ImdsRedirectProbe& probe, PinLayout pins, HostHookSupport support, prometheus::Registry& registry);

  // Pre-routing for IPv4 and IPv6; each a no-op (inactive, with the reason) when the kernel lacks it.
  Status attach_prerouting();
  // The uplinks' egress; `names` empty: the interfaces holding the node's default routes.
  Status attach_uplinks(rtnl::Socket& rtnl, const std::vector<std::string>& names);
  const std::set<uint32_t>& uplinks() const { return uplinks_; }

  // A pod's host-side interface appeared: attach (or take over) its link, dropping every frame until learn().
  Status cover(uint32_t ifindex, const std::string& name);
  // Its pod's MAC and addresses, read from the peer: written to the kernel, old ones withdrawn. `addresses`
  // are rtnl addresses of the peer interface (IPv4 and IPv6, link-local included).
  Status learn(uint32_t ifindex, const rtnl::Mac& mac, uint32_t peer_ifindex,
               const std::vector<rtnl::Address>& addresses);
  // It is gone: unpin its link, withdraw its entries.
  void forget(uint32_t ifindex);
  // After a full read of the node's links: drop pins and entries of interfaces that no longer exist.
  void sweep(const std::set<uint32_t>& live_ifindexes);

  std::vector<HookState> states() const;
  // Empty when every hook that was attached is still pinned where it was put and the pod interfaces are
  // followed; else why not (for /readyz).
  std::string problems() const;
  std::optional<PodInterface> describe(uint32_t ifindex) const;
  void set_watcher_failed(const std::string& why);
  void count_error(const std::string& stage, const Error& error);

 private:
  Status attach_tcx(uint32_t ifindex, const std::string& pin_name, int prog_fd, TcxDirection direction,
                    uint32_t* link_id);
  void withdraw_addresses(uint32_t ifindex);
  void update_gauges();

  ImdsRedirectProbe& probe_;
  PinLayout pins_;
  HostHookSupport support_;

  mutable std::mutex mutex_;
  std::map<std::string, HookState> hooks_;  // guarded by mutex_
  std::map<uint32_t, PodInterface> interfaces_;  // guarded by mutex_
  std::map<uint32_t, std::vector<podid_iface_addr>> written_;  // what pod_addrs holds per ifindex; mutex_
  std::set<uint32_t> uplinks_;
  std::string watcher_failure_;  // guarded by mutex_

  prometheus::Family<prometheus::Gauge>& hook_gauge_;
  prometheus::Family<prometheus::Gauge>& iface_gauge_;
  prometheus::Family<prometheus::Counter>& errors_;
};

// --host-hooks off: removes the frame hooks a previous agent pinned (pre-routing, uplinks, pod interfaces), so
// that the node is as configured and no stale pod interface entry outlives its pod. Returns the pins removed.
Result<std::vector<std::string>> remove_host_hook_pins(const PinLayout& pins);

}  // namespace podid::agent
