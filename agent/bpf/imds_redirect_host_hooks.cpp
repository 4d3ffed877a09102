// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_host_hooks.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "podid/log.h"
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

namespace podid::agent {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPreroutingV4 = "prerouting_ipv4";
constexpr const char* kPreroutingV6 = "prerouting_ipv6";
constexpr const char* kPodInterfaces = "pod_interfaces";
constexpr const char* kUplink = "uplink";

std::string address_text(const rtnl::Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.family, a.addr.data(), buf, sizeof(buf));
  return buf;
}

std::string if_name(uint32_t ifindex) {
  char name[IF_NAMESIZE] = {};
  return ::if_indextoname(ifindex, name) ? name : "ifindex " + std::to_string(ifindex);
}

}  // namespace

HostHooks::HostHooks(ImdsRedirectProbe& probe, PinLayout pins, HostHookSupport support,
                     prometheus::Registry& registry)
    : probe_(probe),
      pins_(std::move(pins)),
      support_(std::move(support)),
      hook_gauge_(prometheus::BuildGauge()
                      .Name("podid_bpf_host_hook")
                      .Help("1 while a frame hook is attached: prerouting_ipv4/6 (netfilter), pod_interfaces (tcx on "
                            "each pod's host-side interface), uplink (tcx egress).")
                      .Register(registry)),
      iface_gauge_(prometheus::BuildGauge()
                       .Name("podid_bpf_pod_interfaces")
                       .Help("Pods' host-side interfaces covered, by state: known (the pod's addresses are "
                             "written) or pending (every frame dropped until they are).")
                       .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("podid_bpf_host_hook_errors_total")
                  .Help("Failures of the frame hooks' upkeep, by stage (attach, learn, netlink, sweep).")
                  .Register(registry)) {
  for (const char* name : {kPreroutingV4, kPreroutingV6, kPodInterfaces, kUplink}) {
    hooks_[name] = HookState{.name = name};
    hook_gauge_.Add({{"hook", name}}).Set(0);
  }
  std::string tcx_why = support_.tcx ? "" : support_.tcx_why;
  hooks_[kPodInterfaces].detail = tcx_why;
  hooks_[kUplink].detail = tcx_why;
  update_gauges();
}

void HostHooks::count_error(const std::string& stage, const Error& error) {
  errors_.Add({{"stage", stage}}).Increment();
  log::error("frame hook upkeep failed", {{"stage", stage}, {"error", error.message()}});
}

Status HostHooks::attach_prerouting() {
  const std::pair<const char*, uint32_t> families[] = {{kPreroutingV4, kNfProtoIpv4}, {kPreroutingV6, kNfProtoIpv6}};
  for (const auto& [name, pf] : families) {
    if (!support_.netfilter || probe_.prerouting_prog_fd() < 0) {
      std::lock_guard lock(mutex_);
      hooks_[name].detail = support_.netfilter_why;
      continue;
    }
    // Netfilter links cannot swap programs: a new link, pinned over the old one, which then detaches.
    auto link = create_netfilter_link(probe_.prerouting_prog_fd(), pf);
    if (!link) return link.error();
    Fd fd(*link);
    fs::path pin = pins_.links / (pf == kNfProtoIpv4 ? "prerouting4" : "prerouting6");
    if (auto st = pin_over(fd.get(), pin); !st) return st.error();
    auto facts = link_facts(fd.get());
    std::lock_guard lock(mutex_);
    hooks_[name].active = true;
    hooks_[name].detail = "netfilter link " + std::to_string(facts ? facts->id : 0) + ", priority " +
                          std::to_string(kPreroutingPriority);
  }
  update_gauges();
  return {};
}

Status HostHooks::attach_tcx(uint32_t ifindex, const std::string& pin_name, int prog_fd, TcxDirection direction,
                             uint32_t* link_id) {
  fs::path pin = pins_.links / pin_name;
  uint32_t want_type = direction == TcxDirection::kIngress ? kBpfAttachTcxIngress : kBpfAttachTcxEgress;
  Fd pinned(bpf_obj_get(pin.c_str()));
  if (pinned.valid()) {
    auto facts = link_facts(pinned.get());
    if (facts && facts->type == kBpfLinkTypeTcx && facts->ifindex == ifindex && facts->attach_type == want_type) {
      Fd old_prog(bpf_prog_get_fd_by_id(facts->prog_id));
      if (old_prog.valid() && replace_link_program(pinned.get(), prog_fd, old_prog.get())) {
        *link_id = facts->id;
        return {};
      }
    }
    // Defunct (its device gone, ifindex 0), on another device, or not swappable: replaced below.
  }
  auto link = create_tcx_link(prog_fd, ifindex, direction);
  if (!link) return link.error();
  Fd fd(*link);
  if (auto st = pin_over(fd.get(), pin); !st) return st.error();
  auto facts = link_facts(fd.get());
  *link_id = facts ? facts->id : 0;
  return {};
}

Status HostHooks::attach_uplinks(rtnl::Socket& rtnl, const std::vector<std::string>& names) {
  std::vector<uint32_t> ifindexes;
  if (names.empty()) {
    auto defaults = rtnl.default_route_interfaces();
    if (!defaults) return defaults.error().wrap("find the uplink (the default route's interface)");
    ifindexes = *defaults;
  } else {
    for (const auto& name : names) {
      uint32_t ifindex = ::if_nametoindex(name.c_str());
      if (ifindex == 0) return os_error(ENODEV, "--uplink " + name + ": no such interface");
      ifindexes.push_back(ifindex);
    }
  }
  uplinks_.insert(ifindexes.begin(), ifindexes.end());
  // Pre-routing lets what the uplinks receive pass unread (the cloud's network, never a pod).
  podid_uplinks listed{};
  size_t n = 0;
  for (uint32_t ifindex : uplinks_) {
    if (n < PODID_UPLINKS_MAX) listed.ifindex[n++] = ifindex;
  }
  uint32_t zero = 0;
  if (bpf_map__update_elem(probe_.uplinks_map(), &zero, sizeof(zero), &listed, sizeof(listed), BPF_ANY) != 0) {
    return last_os_error("write uplinks");
  }
  if (!support_.tcx) return {};
  std::string detail;
  for (uint32_t ifindex : uplinks_) {
    uint32_t link_id = 0;
    if (auto st = attach_tcx(ifindex, "uplink_" + std::to_string(ifindex), probe_.uplink_prog_fd(),
                             TcxDirection::kEgress, &link_id);
        !st) {
      return st.error();
    }
    detail += (detail.empty() ? "" : ", ") + if_name(ifindex) + " (tcx link " + std::to_string(link_id) + ")";
  }
  {
    std::lock_guard lock(mutex_);
    hooks_[kUplink].active = !uplinks_.empty();
    hooks_[kUplink].detail = uplinks_.empty() ? "no uplink: the node has no default route; set --uplink" : detail;
  }
  update_gauges();
  return {};
}

Status HostHooks::cover(uint32_t ifindex, const std::string& name) {
  if (!support_.tcx) return {};
  {
    // Pending first: the program finds no "known" entry and drops every frame until learn().
    std::lock_guard lock(mutex_);
    interfaces_.try_emplace(ifindex, PodInterface{.ifindex = ifindex, .name = name});
  }
  podid_pod_iface entry{};
  uint32_t key = ifindex;
  // NOEXIST: an agent that restarts keeps the entries the last one wrote until it has read the pod again.
  bpf_map__update_elem(probe_.pod_ifaces_map(), &key, sizeof(key), &entry, sizeof(entry), BPF_NOEXIST);
  uint32_t link_id = 0;
  if (auto st = attach_tcx(ifindex, "pod_" + std::to_string(ifindex), probe_.pod_iface_prog_fd(),
                           TcxDirection::kIngress, &link_id);
      !st) {
    return st.error().wrap("cover pod interface " + name);
  }
  update_gauges();
  return {};
}

Status HostHooks::learn(uint32_t ifindex, const rtnl::Mac& mac, uint32_t peer_ifindex,
                        const std::vector<rtnl::Address>& addresses) {
  if (!support_.tcx) return {};
  std::vector<podid_iface_addr> want;
  std::vector<std::string> texts;
  for (const auto& a : addresses) {
    podid_iface_addr key{};
    key.ifindex = ifindex;
    key.family = a.family == AF_INET ? PODID_AF_INET : PODID_AF_INET6;
    std::memcpy(key.addr, a.addr.data(), sizeof(key.addr));
    want.push_back(key);
    texts.push_back(address_text(a));
  }
  uint8_t one = 1;
  for (const auto& key : want) {
    if (bpf_map__update_elem(probe_.pod_addrs_map(), &key, sizeof(key), &one, sizeof(one), BPF_ANY) != 0) {
      return last_os_error("write pod_addrs for ifindex " + std::to_string(ifindex));
    }
  }
  podid_pod_iface entry{};
  std::memcpy(entry.mac, mac.data(), sizeof(entry.mac));
  entry.state = PODID_IFACE_KNOWN;
  entry.peer_ifindex = peer_ifindex;
  for (const auto& a : addresses) {
    if (a.family == AF_INET) {
      std::memcpy(&entry.ip4, a.addr.data(), sizeof(entry.ip4));  // the fast path's address; all are in pod_addrs
      break;
    }
  }
  uint32_t key = ifindex;
  if (bpf_map__update_elem(probe_.pod_ifaces_map(), &key, sizeof(key), &entry, sizeof(entry), BPF_ANY) != 0) {
    return last_os_error("write pod_ifaces for ifindex " + std::to_string(ifindex));
  }
  // Withdraw what the pod no longer holds, only now that the new set is in place.
  std::vector<podid_iface_addr> gone;
  {
    std::lock_guard lock(mutex_);
    for (const auto& old : written_[ifindex]) {
      bool kept = false;
      for (const auto& w : want) kept = kept || std::memcmp(&w, &old, sizeof(w)) == 0;
      if (!kept) gone.push_back(old);
    }
    written_[ifindex] = want;
    auto& iface = interfaces_[ifindex];
    iface.ifindex = ifindex;
    iface.mac = mac;
    iface.addresses = texts;
  }
  for (const auto& k : gone) bpf_map__delete_elem(probe_.pod_addrs_map(), &k, sizeof(k), 0);
  update_gauges();
  return {};
}

void HostHooks::withdraw_addresses(uint32_t ifindex) {
  // Every pod_addrs key of this interface, whoever wrote it (a previous agent included).
  std::vector<podid_iface_addr> mine;
  podid_iface_addr cur{}, next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(probe_.pod_addrs_map(), prev, &next, sizeof(next)) == 0) {
    if (next.ifindex == ifindex) mine.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (const auto& k : mine) bpf_map__delete_elem(probe_.pod_addrs_map(), &k, sizeof(k), 0);
}

void HostHooks::forget(uint32_t ifindex) {
  ::unlink((pins_.links / ("pod_" + std::to_string(ifindex))).c_str());
  uint32_t key = ifindex;
  bpf_map__delete_elem(probe_.pod_ifaces_map(), &key, sizeof(key), 0);
  withdraw_addresses(ifindex);
  {
    std::lock_guard lock(mutex_);
    interfaces_.erase(ifindex);
    written_.erase(ifindex);
  }
  update_gauges();
}

void HostHooks::sweep(const std::set<uint32_t>& live) {
  std::set<uint32_t> stale;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pins_.links, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("pod_", 0) == 0 && name.find("_new") == std::string::npos) {
      uint32_t ifindex = static_cast<uint32_t>(std::strtoul(name.c_str() + 4, nullptr, 10));
      if (!live.count(ifindex)) stale.insert(ifindex);
    }
  }
  uint32_t cur = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map__get_next_key(probe_.pod_ifaces_map(), prev, &next, sizeof(next)) == 0) {
    if (!live.count(next)) stale.insert(next);
    cur = next;
    prev = &cur;
  }
  {
    std::lock_guard lock(mutex_);
    for (const auto& [ifindex, _] : interfaces_) {
      if (!live.count(ifindex)) stale.insert(ifindex);
    }
  }
  for (uint32_t ifindex : stale) forget(ifindex);
  // pod_addrs entries whose interface is neither live nor tracked (a previous agent's leftovers).
  std::vector<podid_iface_addr> orphans;
  podid_iface_addr acur{}, anext{};
  const void* aprev = nullptr;
  while (bpf_map__get_next_key(probe_.pod_addrs_map(), aprev, &anext, sizeof(anext)) == 0) {
    if (!live.count(anext.ifindex)) orphans.push_back(anext);
    acur = anext;
    aprev = &acur;
  }
  for (const auto& k : orphans) bpf_map__delete_elem(probe_.pod_addrs_map(), &k, sizeof(k), 0);
}

void HostHooks::set_watcher_failed(const std::string& why) {
  std::lock_guard lock(mutex_);
  watcher_failure_ = why;
}

void HostHooks::update_gauges() {
  std::lock_guard lock(mutex_);
  size_t known = 0;
  for (const auto& [_, iface] : interfaces_) known += iface.mac.has_value();
  iface_gauge_.Add({{"state", "known"}}).Set(static_cast<double>(known));
  iface_gauge_.Add({{"state", "pending"}}).Set(static_cast<double>(interfaces_.size() - known));
  if (support_.tcx) {
    hooks_[kPodInterfaces].active = watcher_failure_.empty();
    hooks_[kPodInterfaces].detail = watcher_failure_.empty()
                                        ? std::to_string(known) + " known, " +
                                              std::to_string(interfaces_.size() - known) + " pending"
                                        : "not following pod interfaces: " + watcher_failure_;
  }
  for (const auto& [name, state] : hooks_) hook_gauge_.Add({{"hook", name}}).Set(state.active ? 1 : 0);
}

std::vector<HookState> HostHooks::states() const {
  std::lock_guard lock(mutex_);
  std::vector<HookState> out;
  for (const auto& [_, state] : hooks_) out.push_back(state);
  return out;
}

std::string HostHooks::problems() const {
  std::vector<std::pair<fs::path, uint32_t>> expected;  // pin, and the ifindex a tcx link must be on (0: any)
  {
    std::lock_guard lock(mutex_);
    if (!watcher_failure_.empty()) return "pod interfaces not followed: " + watcher_failure_;
    if (hooks_.at(kPreroutingV4).active) expected.emplace_back(pins_.links / "prerouting4", 0);
    if (hooks_.at(kPreroutingV6).active) expected.emplace_back(pins_.links / "prerouting6", 0);
  }
  if (support_.tcx) {
    for (uint32_t ifindex : uplinks_) expected.emplace_back(pins_.links / ("uplink_" + std::to_string(ifindex)), ifindex);
  }
  for (const auto& [pin, ifindex] : expected) {
    Fd link(bpf_obj_get(pin.c_str()));
    if (!link.valid()) return "frame hook link " + pin.string() + " is gone";
    auto facts = link_facts(link.get());
    if (!facts || (ifindex && facts->ifindex != ifindex)) return "frame hook link " + pin.string() + " is detached";
  }
  return {};
}

Result<std::vector<std::string>> remove_host_hook_pins(const PinLayout& pins) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pins.links, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("prerouting", 0) != 0 && name.rfind("uplink_", 0) != 0 && name.rfind("pod_", 0) != 0) continue;
    if (::unlink(entry.path().c_str()) != 0) return last_os_error("unpin " + entry.path().string());
    removed.push_back(entry.path().string());
  }
  return removed;
}

std::optional<PodInterface> HostHooks::describe(uint32_t ifindex) const {
  std::lock_guard lock(mutex_);
  auto it = interfaces_.find(ifindex);
  if (it == interfaces_.end()) return std::nullopt;
  return it->second;
}

}  // namespace podid::agent
