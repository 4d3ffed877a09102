// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_deny_events.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/libbpf.h>

#include <cstdio>

#include "podid/log.h"

namespace podid::agent {

const char* deny_reason_name(uint8_t reason) {
  switch (reason) {
    case PODID_DENY_PORT: return "port";
    case PODID_DENY_NON_TCP: return "non_tcp";
    case PODID_DENY_SENDMSG: return "udp_sendmsg";
    case PODID_DENY_NAT64: return "nat64";
    case PODID_DENY_NO_AGENT6: return "no_agent_ipv6";
    case PODID_DENY_NO_STORAGE: return "no_socket_storage";
    case PODID_DENY_EGRESS: return "egress";
    case PODID_DENY_EGRESS_RAW: return "egress_raw_socket";
    case PODID_DENY_CONN_QUOTA: return "conn_quota";
    case PODID_DENY_PREROUTING: return "prerouting";
    case PODID_DENY_IFACE_TARGET: return "pod_iface_target";
    case PODID_DENY_IFACE_UNKNOWN: return "pod_iface_unknown";
    case PODID_DENY_SPOOF_MAC: return "spoof_mac";
    case PODID_DENY_SPOOF_ARP: return "spoof_arp";
    case PODID_DENY_SPOOF_IP: return "spoof_ip";
    case PODID_DENY_SPOOF_ND: return "spoof_nd";
    case PODID_DENY_ETHERTYPE: return "ethertype";
    case PODID_DENY_UPLINK: return "uplink";
    case PODID_DENY_SOCKOPT: return "sockopt";
    default: return "unknown";
  }
}

const char* hook_name(uint8_t hook) {
  switch (hook) {
    case PODID_HOOK_CONNECT4: return "connect4";
    case PODID_HOOK_CONNECT6: return "connect6";
    case PODID_HOOK_SENDMSG4: return "sendmsg4";
    case PODID_HOOK_SENDMSG6: return "sendmsg6";
    case PODID_HOOK_EGRESS: return "egress";
    case PODID_HOOK_SOCKOPS: return "sockops";
    case PODID_HOOK_PREROUTING: return "prerouting";
    case PODID_HOOK_POD_IFACE: return "pod_iface";
    case PODID_HOOK_UPLINK: return "uplink";
    case PODID_HOOK_SETSOCKOPT: return "setsockopt";
    default: return "unknown";
  }
}

DenyEventReader::DenyEventReader(bpf_map* events, DenyEventSink sink) : events_(events), sink_(std::move(sink)) {}

DenyEventReader::~DenyEventReader() { stop(); }

Status DenyEventReader::start() {
  rb_ = ring_buffer__new(bpf_map__fd(events_), &DenyEventReader::on_sample, this, nullptr);
  if (!rb_) return last_os_error("open deny event ring buffer");
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      int n = ring_buffer__poll(rb_, 200);
      if (n < 0 && n != -EINTR) log::warn("deny event poll failed", {{"errno", -n}});
    }
  });
  return {};
}

void DenyEventReader::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
}

int DenyEventReader::on_sample(void* self, void* data, size_t size) {
  if (size < sizeof(podid_deny_event)) return 0;
  static_cast<DenyEventReader*>(self)->handle(*static_cast<const podid_deny_event*>(data));
  return 0;
}

namespace {

// "addr:port" for an IP destination, null where the refusal named none (a socket option, a quota).
nlohmann::json endpoint_text(uint8_t family, const uint8_t* addr, uint16_t port_be) {
  if (family != PODID_AF_INET && family != PODID_AF_INET6) return nullptr;
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == PODID_AF_INET ? AF_INET : AF_INET6, addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(port_be));
}

std::string address_text(uint8_t family, const uint8_t* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == PODID_AF_INET ? AF_INET : AF_INET6, addr, text, sizeof(text));
  return text;
}

bool is_frame_hook(uint8_t hook) {
  return hook == PODID_HOOK_PREROUTING || hook == PODID_HOOK_POD_IFACE || hook == PODID_HOOK_UPLINK;
}

}  // namespace

void DenyEventReader::handle(const podid_deny_event& ev) {
  const char* proto = ev.proto == PODID_PROTO_TCP ? "tcp" : ev.proto == PODID_PROTO_UDP ? "udp" : "other";
  std::optional<std::string> path =
      sink_.cgroup_path && ev.cgroup_id ? sink_.cgroup_path(ev.cgroup_id) : std::nullopt;
  nlohmann::json fields = {
      {"audit", true},
      {"cgroup_id", ev.cgroup_id},
      {"cgroup_path", path ? nlohmann::json(*path) : nlohmann::json()},
      {"destination", endpoint_text(ev.family, ev.daddr, ev.dport)},
      {"protocol", proto},
      {"reason", deny_reason_name(ev.reason)},
      {"hook", hook_name(ev.hook)},
  };
  if (ev.pid_tgid) fields["pid"] = static_cast<uint32_t>(ev.pid_tgid >> 32);
  if (ev.netns_cookie) fields["netns_cookie"] = ev.netns_cookie;
  if (is_frame_hook(ev.hook)) {
    char mac[18];
    std::snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ev.smac[0], ev.smac[1], ev.smac[2], ev.smac[3],
                  ev.smac[4], ev.smac[5]);
    fields["source_mac"] = mac;
    if (ev.family == PODID_AF_INET || ev.family == PODID_AF_INET6) fields["source"] = address_text(ev.family, ev.saddr);
    std::optional<PodInterface> iface = sink_.pod_interface ? sink_.pod_interface(ev.ifindex) : std::nullopt;
    char name[IF_NAMESIZE] = {};
    fields["interface"] = iface                                  ? iface->name
                          : ::if_indextoname(ev.ifindex, name) ? std::string(name)
                                                               : "ifindex " + std::to_string(ev.ifindex);
    if (iface) fields["pod_addresses"] = iface->addresses;
  }
  log::warn("denied", fields);
  if (sink_.count) sink_.count(deny_reason_name(ev.reason), hook_name(ev.hook));
}

}  // namespace podid::agent
