// SPDX-License-Identifier: Apache-2.0
//
// BPF links libbpf 1.1 cannot make: netfilter links (kernel 6.4) and tcx links (6.6). Debian 12's libbpf
// and kernel headers predate both, so this file speaks BPF_LINK_CREATE itself, with the kernel's constants
// spelled out (from include/uapi/linux/bpf.h of 6.6; the values are ABI and never change) and the
// link_create attribute laid out as the kernel reads it (checked by static_asserts).
//
// Every function here works on file descriptors the caller owns; pinning is done by the caller.
//
// Errors: Result<T> with errno and context (podid/result.h); nothing throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "podid/result.h"

namespace podid::agent {

// A file descriptor closed with its owner (links, programs and cgroups held for one step).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Kernel constants missing from Debian 12's <linux/bpf.h> (6.1).
inline constexpr uint32_t kBpfProgTypeNetfilter = 32;  // enum bpf_prog_type: BPF_PROG_TYPE_NETFILTER
inline constexpr uint32_t kBpfAttachNetfilter = 45;    // enum bpf_attach_type: BPF_NETFILTER
inline constexpr uint32_t kBpfAttachTcxIngress = 46;   // BPF_TCX_INGRESS
inline constexpr uint32_t kBpfAttachTcxEgress = 47;    // BPF_TCX_EGRESS
inline constexpr uint32_t kBpfLinkTypeNetfilter = 10;  // enum bpf_link_type: BPF_LINK_TYPE_NETFILTER
inline constexpr uint32_t kBpfLinkTypeTcx = 11;        // BPF_LINK_TYPE_TCX
inline constexpr uint32_t kBpfFlagBefore = 1u << 3;    // BPF_F_BEFORE: with no relative program, first of all
inline constexpr uint32_t kNfProtoIpv4 = 2;            // NFPROTO_IPV4
inline constexpr uint32_t kNfProtoIpv6 = 10;           // NFPROTO_IPV6
inline constexpr uint32_t kNfInetPreRouting = 0;       // NF_INET_PRE_ROUTING
// Before defragmentation and connection tracking (NF_IP_PRI_RAW_BEFORE_DEFRAG is -450): a packet is judged
// before anything else in the node spends work on it, fragments one by one.
inline constexpr int32_t kPreroutingPriority = -451;

enum class TcxDirection { kIngress, kEgress };

// A link's identity as the kernel reports it: enough to tell whether a pinned link is still the one we want.
struct LinkFacts {
  uint32_t type = 0;      // kBpfLinkTypeTcx, kBpfLinkTypeNetfilter, BPF_LINK_TYPE_CGROUP, ...
  uint32_t id = 0;
  uint32_t prog_id = 0;
  uint32_t ifindex = 0;   // tcx: the device (0 once the device is gone: a defunct link)
  uint32_t attach_type = 0;  // tcx: kBpfAttachTcxIngress or kBpfAttachTcxEgress
  uint32_t nf_pf = 0;     // netfilter: kNfProtoIpv4 or kNfProtoIpv6
  int32_t nf_priority = 0;
};

// A new netfilter link at pre-routing, in the calling thread's network namespace, for protocol `pf`.
Result<int> create_netfilter_link(int prog_fd, uint32_t pf);

// A new tcx link on `ifindex`, placed first among the device's tcx programs (before a CNI's), so that a
// program returning "redirect" ahead of ours cannot carry a frame past it.
Result<int> create_tcx_link(int prog_fd, uint32_t ifindex, TcxDirection direction);

Result<LinkFacts> link_facts(int link_fd);

// Swaps the program inside a link atomically (BPF_LINK_UPDATE with BPF_F_REPLACE of old_prog_fd). tcx and
// cgroup links support it; netfilter links do not (EOPNOTSUPP): the caller replaces those.
Status replace_link_program(int link_fd, int new_prog_fd, int old_prog_fd);

// Pins link_fd at `path`, replacing whatever was pinned there without a moment with neither (pin beside,
// then rename over). The link previously pinned there is released when its last reference goes.
Status pin_over(int link_fd, const std::filesystem::path& path);

// Can this kernel make netfilter links (6.4) and tcx links (6.6)? Each answer carries why not. The netfilter
// check attaches an accept-everything program for an instant (the only sure test: the program type alone
// does not say whether CONFIG_NETFILTER_BPF_LINK is set).
struct HostHookSupport {
  bool netfilter = false;
  std::string netfilter_why;
  bool tcx = false;
  std::string tcx_why;
};
HostHookSupport probe_host_hook_support();

}  // namespace podid::agent
