// SPDX-License-Identifier: Apache-2.0
//
// Follows the pods' host-side interfaces and tells HostHooks what each pod may send as.
//
// A pod interface is a veth (or netkit) device in the node's namespace whose other end is in another
// namespace, and is not an uplink; --pod-interface-prefix narrows that to names a CNI uses (kubenet "veth",
// Azure CNI "azv", Cilium "lxc"). The truth about the pod behind it is the other end itself, read through
// the pod's namespace id: its MAC and the addresses configured on it, IPv6 link-local included. Not the
// API's pod IPs, which lag the sandbox by seconds and can name an address before the pod holds it or after
// it gave it up.
//
// Order of events for a new pod: the interface appears (RTM_NEWLINK) -> covered: its tcx link attached, its
// entry pending, every frame dropped -> the CNI configures the other end (RTM_NEWADDR in the pod's
// namespace) -> learned: MAC and addresses written, frames from them pass. Between the interface appearing
// and the link attaching, the pre-routing hook still drops anything for a target; the source checks start
// with the link (docs/security.md says what that leaves). When a pod's addresses are learned, neighbour
// entries of the node that point any of them at another MAC (a poisoning from before the link) are removed.
//
// One thread, one netlink monitor; a lost notification (ENOBUFS) re-reads everything.
//
// Errors: start() returns Status; later failures are counted (podid_bpf_host_hook_errors_total) and logged,
// and a monitor that cannot go on makes the agent not ready.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/bpf/imds_redirect_host_hooks.h"
#include "agent/bpf/rtnetlink.h"
#include "podid/result.h"

namespace podid::agent {

class PodInterfaceWatcher {
 public:
  // `prefixes` empty: every veth/netkit whose peer is in another namespace, uplinks excepted.
  PodInterfaceWatcher(HostHooks& hooks, std::vector<std::string> prefixes);
  ~PodInterfaceWatcher();
  PodInterfaceWatcher(const PodInterfaceWatcher&) = delete;
  PodInterfaceWatcher& operator=(const PodInterfaceWatcher&) = delete;

  // Covers and learns every pod interface there is before returning, then follows changes on a thread.
  Status start();
  void stop();

 private:
  struct Tracked {
    std::string name;
    int32_t nsid = -1;
    uint32_t peer_ifindex = 0;
  };

  void run();
  Status resync();
  void on_event(const rtnl::Event& ev);
  bool is_pod_interface(const rtnl::Link& link) const;
  void track(const rtnl::Link& link, bool learn_now);
  void untrack(uint32_t ifindex);
  Status learn(uint32_t ifindex);
  void repair_neighbours(const rtnl::Mac& mac, const std::vector<rtnl::Address>& addresses);

  HostHooks& hooks_;
  std::vector<std::string> prefixes_;
  rtnl::Socket requests_;
  rtnl::Socket monitor_;
  std::map<uint32_t, Tracked> tracked_;                       // host ifindex -> its peer
  std::map<std::pair<int32_t, uint32_t>, uint32_t> by_peer_;  // (nsid, peer ifindex) -> host ifindex
  int stop_fd_ = -1;
  std::thread thread_;
};

// The frame hooks of a running agent: attached, pod interfaces covered and followed.
struct HostHookSet {
  std::unique_ptr<HostHooks> hooks;
  std::unique_ptr<PodInterfaceWatcher> watcher;  // null where the kernel has no tcx
};

struct HostHookOptions {
  std::vector<std::string> uplinks;                 // empty: the default routes' interfaces
  std::vector<std::string> pod_interface_prefixes;  // empty: every veth/netkit with its peer elsewhere
};

// Attaches pre-routing and the uplinks, covers every pod interface there is, and starts following them.
// Hooks the kernel lacks stay inactive, with the reason in their state.
Result<HostHookSet> start_host_hooks(ImdsRedirectProbe& probe, const PinLayout& pins, const HostHookSupport& support,
                                     const HostHookOptions& options, prometheus::Registry& registry);

}  // namespace podid::agent
