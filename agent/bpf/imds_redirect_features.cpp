// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace podid::agent {
namespace fs = std::filesystem;

namespace {

struct ProgTypeNeed {
  bpf_prog_type type;
  const char* name;
  const char* since;
};

struct HelperNeed {
  bpf_prog_type type;
  bpf_func_id helper;
  const char* name;
  const char* since;
};

constexpr ProgTypeNeed kProgTypes[] = {
    {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup sock_addr (connect4/6, sendmsg4/6)", "4.18"},
    {BPF_PROG_TYPE_SOCK_OPS, "sockops", "4.13"},
    {BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb (egress)", "4.10"},
    {BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup sockopt (setsockopt)", "5.3"},
    {BPF_PROG_TYPE_SCHED_CLS, "sched_cls (the frame hooks on pod interfaces and the uplink)", "4.1"},
};

constexpr HelperNeed kHelpers[] = {
    {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_cgroup_id, "bpf_get_current_cgroup_id in connect4", "5.7"},
    {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_ancestor_cgroup_id,
     "bpf_get_current_ancestor_cgroup_id in connect4", "5.7"},
    {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get, "bpf_sk_storage_get in connect4", "5.3"},
    {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_netns_cookie, "bpf_get_netns_cookie in connect4", "5.7"},
    {BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sk_storage_get, "bpf_sk_storage_get in sockops", "5.3"},
    {BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_socket_cookie, "bpf_get_socket_cookie in sockops", "4.20"},
    {BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_skb_cgroup_id, "bpf_skb_cgroup_id in cgroup_skb", "5.7"},
    {BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_sk_fullsock, "bpf_sk_fullsock in cgroup_skb", "5.1"},
    {BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve in cgroup_skb", "5.8"},
    {BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_ancestor_cgroup_id, "bpf_skb_ancestor_cgroup_id in sched_cls", "4.19"},
    {BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_FUNC_get_current_cgroup_id, "bpf_get_current_cgroup_id in setsockopt",
     "a kernel newer than this one"},
};

constexpr std::pair<bpf_map_type, const char*> kMapTypes[] = {
    {BPF_MAP_TYPE_SK_STORAGE, "socket-local storage map (5.2)"},
    {BPF_MAP_TYPE_RINGBUF, "ring buffer map (5.8)"},
    {BPF_MAP_TYPE_PERCPU_ARRAY, "per-CPU array map (4.6)"},
};

constexpr std::pair<bpf_attach_type, const char*> kAttachTypes[] = {
    {BPF_CGROUP_INET4_CONNECT, "cgroup/connect4"},    {BPF_CGROUP_INET6_CONNECT, "cgroup/connect6"},
    {BPF_CGROUP_UDP4_SENDMSG, "cgroup/sendmsg4"},     {BPF_CGROUP_UDP6_SENDMSG, "cgroup/sendmsg6"},
    {BPF_CGROUP_SOCK_OPS, "sockops"},                 {BPF_CGROUP_INET_EGRESS, "cgroup_skb/egress"},
    {BPF_CGROUP_SETSOCKOPT, "cgroup/setsockopt"},
};

}  // namespace

std::vector<FeatureProblem> probe_kernel_features() {
  std::vector<FeatureProblem> problems;
  for (const auto& need : kProgTypes) {
    int r = libbpf_probe_bpf_prog_type(need.type, nullptr);
    if (r != 1) {
      problems.push_back({std::string("program type ") + need.name,
                          r == 0 ? std::string("not supported by this kernel (needs ") + need.since + ")"
                                 : std::strerror(-r)});
    }
  }
  for (const auto& [type, name] : kMapTypes) {
    int r = libbpf_probe_bpf_map_type(type, nullptr);
    if (r != 1) problems.push_back({std::string("map type ") + name, r == 0 ? "not supported" : std::strerror(-r)});
  }
  for (const auto& need : kHelpers) {
    int r = libbpf_probe_bpf_helper(need.type, need.helper, nullptr);
    if (r != 1) {
      problems.push_back({std::string("helper ") + need.name,
                          r == 0 ? std::string("not available (needs ") + need.since + ")" : std::strerror(-r)});
    }
  }
  return problems;
}

std::vector<FeatureProblem> probe_exclusive_attachments(const fs::path& mount, const fs::path& attach_dir) {
  std::vector<FeatureProblem> problems;
  fs::path root = fs::weakly_canonical(mount);
  for (fs::path dir = fs::weakly_canonical(attach_dir);; dir = dir.parent_path()) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      for (const auto& [type, name] : kAttachTypes) {
        __u32 flags = 0, count = 0;
        if (bpf_prog_query(fd, type, 0, &flags, nullptr, &count) == 0 && count > 0 &&
            !(flags & BPF_F_ALLOW_MULTI)) {
          problems.push_back({std::string(name) + " programs on " + dir.string(),
                              "attached without BPF_F_ALLOW_MULTI, which forbids any " + std::string(name) +
                                  " program below; detach them or re-attach them as multi"});
        }
      }
      ::close(fd);
    }
    if (dir == root || dir == dir.parent_path() || dir.string().size() <= root.string().size()) break;
  }
  return problems;
}

std::string describe(const std::vector<FeatureProblem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  - " + p.what + ": " + p.why + "\n";
  return out;
}

}  // namespace podid::agent
