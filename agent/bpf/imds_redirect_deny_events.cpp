// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_deny_events.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>

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

void DenyEventReader::handle(const podid_deny_event& ev) {
  char addr[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(ev.family == PODID_AF_INET ? AF_INET : AF_INET6, ev.daddr, addr, sizeof(addr));
  const char* proto = ev.proto == PODID_PROTO_TCP ? "tcp" : ev.proto == PODID_PROTO_UDP ? "udp" : "other";
  std::optional<std::string> path = sink_.cgroup_path ? sink_.cgroup_path(ev.cgroup_id) : std::nullopt;
  nlohmann::json fields = {
      {"audit", true},
      {"cgroup_id", ev.cgroup_id},
      {"cgroup_path", path ? nlohmann::json(*path) : nlohmann::json()},
      {"destination", std::string(addr) + ":" + std::to_string(ntohs(ev.dport))},
      {"protocol", proto},
      {"reason", deny_reason_name(ev.reason)},
      {"hook", hook_name(ev.hook)},
  };
  if (ev.pid_tgid) fields["pid"] = static_cast<uint32_t>(ev.pid_tgid >> 32);
  if (ev.netns_cookie) fields["netns_cookie"] = ev.netns_cookie;
  log::warn("denied", fields);
  if (sink_.count) sink_.count(deny_reason_name(ev.reason), hook_name(ev.hook));
}

}  // namespace podid::agent
