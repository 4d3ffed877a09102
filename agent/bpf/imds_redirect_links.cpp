// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_links.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace podid::agent {
namespace fs = std::filesystem;

namespace {

// BPF_LINK_CREATE's attribute as kernels from 6.6 read it, for the two link kinds used here. The leading
// fields are those of the 6.1 header's link_create; the union after them starts at byte 16.
struct LinkCreateAttr {
  uint32_t prog_fd;
  uint32_t target;       // target_fd (cgroup) or target_ifindex (tcx); 0 for netfilter
  uint32_t attach_type;
  uint32_t flags;
  union {
    struct {
      uint32_t pf;
      uint32_t hooknum;
      int32_t priority;
      uint32_t flags;
    } netfilter;
    struct {
      uint32_t relative_fd;  // or relative_id with BPF_F_ID
      uint32_t pad;
      uint64_t expected_revision;
    } tcx;
  };
};
static_assert(offsetof(LinkCreateAttr, netfilter) == offsetof(bpf_attr, link_create.target_btf_id));
static_assert(offsetof(LinkCreateAttr, tcx.expected_revision) == 24);

// The rest of union bpf_attr must be zero: the kernel refuses non-zero bytes it does not know.
union LinkCreateBuffer {
  bpf_attr attr;
  LinkCreateAttr link;
};

Result<int> link_create(const LinkCreateAttr& a, const char* what) {
  LinkCreateBuffer buf;
  std::memset(&buf, 0, sizeof(buf));
  buf.link = a;
  int fd = static_cast<int>(::syscall(__NR_bpf, BPF_LINK_CREATE, &buf.attr, sizeof(buf.attr)));
  if (fd < 0) return last_os_error(what);
  return fd;
}

// The union of bpf_link_info at byte 16 as 6.6 defines it for these two link types.
struct LinkInfoTail {
  uint32_t a, b, c, d;  // tcx: ifindex, attach_type; netfilter: pf, hooknum, priority, flags
};

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<int> create_netfilter_link(int prog_fd, uint32_t pf) {
  LinkCreateAttr a{};
  a.prog_fd = static_cast<uint32_t>(prog_fd);
  a.attach_type = kBpfAttachNetfilter;
  a.netfilter.pf = pf;
  a.netfilter.hooknum = kNfInetPreRouting;
  a.netfilter.priority = kPreroutingPriority;
  return link_create(a, pf == kNfProtoIpv6 ? "create netfilter link (IPv6 pre-routing)"
                                           : "create netfilter link (IPv4 pre-routing)");
}

Result<int> create_tcx_link(int prog_fd, uint32_t ifindex, TcxDirection direction) {
  LinkCreateAttr a{};
  a.prog_fd = static_cast<uint32_t>(prog_fd);
  a.target = ifindex;
  a.attach_type = direction == TcxDirection::kIngress ? kBpfAttachTcxIngress : kBpfAttachTcxEgress;
  a.flags = kBpfFlagBefore;
  char name[IF_NAMESIZE] = {};
  std::string what = std::string("create tcx ") + (direction == TcxDirection::kIngress ? "ingress" : "egress") +
                     " link on " + (::if_indextoname(ifindex, name) ? name : "ifindex " + std::to_string(ifindex));
  return link_create(a, what.c_str());
}

Result<LinkFacts> link_facts(int link_fd) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) return last_os_error("read link info");
  LinkFacts facts{.type = info.type, .id = info.id, .prog_id = info.prog_id};
  LinkInfoTail tail{};
  static_assert(sizeof(info) >= 16 + sizeof(tail));
  std::memcpy(&tail, reinterpret_cast<const char*>(&info) + 16, sizeof(tail));
  if (info.type == kBpfLinkTypeTcx) {
    facts.ifindex = tail.a;
    facts.attach_type = tail.b;
  } else if (info.type == kBpfLinkTypeNetfilter) {
    facts.nf_pf = tail.a;
    facts.nf_priority = static_cast<int32_t>(tail.c);
  }
  return facts;
}

Status replace_link_program(int link_fd, int new_prog_fd, int old_prog_fd) {
  LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE, .old_prog_fd = static_cast<__u32>(old_prog_fd));
  if (int err = bpf_link_update(link_fd, new_prog_fd, &opts); err != 0) return os_error(err, "swap program in link");
  return {};
}

Status pin_over(int link_fd, const fs::path& path) {
  fs::path tmp = path;
  tmp += "_new";  // bpffs refuses dots in names (reserved for internal files)
  ::unlink(tmp.c_str());
  if (bpf_obj_pin(link_fd, tmp.c_str()) != 0) return last_os_error("pin " + tmp.string());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = last_os_error("pin " + path.string());
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

HostHookSupport probe_host_hook_support() {
  HostHookSupport s;
  const bpf_insn accept_all[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = static_cast<bpf_attach_type>(kBpfAttachNetfilter));
  int prog = bpf_prog_load(static_cast<bpf_prog_type>(kBpfProgTypeNetfilter), "podid_nf_probe", "GPL", accept_all, 2,
                           &opts);
  if (prog < 0) {
    s.netfilter_why = "netfilter BPF programs not supported (needs kernel 6.4): " + std::string(std::strerror(-prog));
  } else {
    auto link = create_netfilter_link(prog, kNfProtoIpv4);
    if (link) {
      ::close(*link);
      s.netfilter = true;
    } else {
      s.netfilter_why = "netfilter BPF links not available (needs kernel 6.4 with CONFIG_NETFILTER_BPF_LINK): " +
                        link.error().message();
    }
    ::close(prog);
  }
  // A query of tcx programs on the loopback device: EINVAL where the kernel has no tcx (before 6.6).
  __u32 count = 0, attach_flags = 0;
  if (bpf_prog_query(static_cast<int>(::if_nametoindex("lo")), static_cast<bpf_attach_type>(kBpfAttachTcxIngress), 0,
                     &attach_flags, nullptr, &count) == 0) {
    s.tcx = true;
  } else {
    s.tcx_why = "tcx links not supported (needs kernel 6.6): " + std::string(std::strerror(errno));
  }
  return s;
}

}  // namespace podid::agent
