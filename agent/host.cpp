// SPDX-License-Identifier: Apache-2.0
#include "agent/host.h"

#include <sys/resource.h>

#include "agent/bpf/imds_redirect_features.h"
#include "agent/cgroup/cgroup_fs.h"

namespace podid::agent {
namespace fs = std::filesystem;

Result<Host> resolve_host(const AgentConfig& config) {
  auto mount = find_cgroup2_mount();
  if (!mount) return mount.error();
  Host host{.mount = *mount};
  if (!config.cgroup_path.empty()) {
    host.attach_dir = config.cgroup_path;
  } else {
    for (const char* name : {"kubepods.slice", "kubepods"}) {
      if (fs::exists(*mount / name)) host.attach_dir = *mount / name;
    }
    if (host.attach_dir.empty()) {
      return os_error(ENOENT, "no kubepods cgroup under " + mount->string() +
                                  " (kubepods.slice or kubepods): this is not a Kubernetes node, or its kubelet "
                                  "uses another cgroup root; point --cgroup-path at the cgroup pods run under");
    }
  }
  if (!is_cgroup2_dir(host.attach_dir)) {
    return os_error(ENOTDIR, host.attach_dir.string() + " is not a cgroup v2 directory (BPF programs attach only there)");
  }
  auto level = cgroup_level(host.mount, host.attach_dir);
  if (!level) return level.error();
  host.level = *level;
  return host;
}

std::string host_problems(const Result<Host>& host) {
  auto problems = probe_kernel_features();
  if (host) {
    auto exclusive = probe_exclusive_attachments(host->mount, host->attach_dir);
    problems.insert(problems.end(), exclusive.begin(), exclusive.end());
  } else {
    problems.push_back({"kubepods cgroup", host.error().message()});
  }
  return problems.empty() ? std::string() : describe(problems);
}

Result<uint64_t> raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return last_os_error("getrlimit(RLIMIT_NOFILE)");
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return last_os_error("setrlimit(RLIMIT_NOFILE)");
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace podid::agent
