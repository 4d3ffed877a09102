// SPDX-License-Identifier: Apache-2.0
//
// ImdsRedirectProbe owns the imds_redirect skeleton: loads it against pinned maps, writes the agent's
// configuration into them, attaches every cgroup program to the kubepods cgroup with a pinned bpf_link (or
// swaps the program inside an existing pinned link), and reads counters back. The frame programs (netfilter,
// tcx) are attached by HostHooks (imds_redirect_host_hooks.h) with the descriptors this class hands out. It never detaches anything when it
// is destroyed: links and maps stay pinned, so a dead or restarting agent leaves pods failing closed
// (ECONNREFUSED), never reaching the real metadata service. Only uninstall_pins() removes them.
//
// Pin layout: <bpffs>/<name>/v<PODID_ABI_VERSION>/maps/<map> and .../links/<program>.
//
// Errors: Result<T> with errno and context (podid/result.h). Nothing here throws.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "podid/bpf/imds_redirect_abi.h"
#include "podid/result.h"

struct imds_redirect;  // the generated skeleton (imds_redirect.skel.h)
struct bpf_map;

namespace podid::agent {

struct PinLayout {
  std::filesystem::path root;   // <bpffs>/<name>
  std::filesystem::path dir;    // root/v<ABI>
  std::filesystem::path maps;   // dir/maps
  std::filesystem::path links;  // dir/links
  static PinLayout under(const std::filesystem::path& bpffs, const std::string& name);
};

// Everything the kernel side needs to know, resolved from AgentConfig by the caller.
struct RedirectSettings {
  std::filesystem::path attach_cgroup;   // the kubepods cgroup v2 directory (its QoS children are found here)
  int kubepods_level = 0;                // its depth under the cgroup v2 root
  std::string agent_ip4;                 // redirect address and port
  std::string agent_ip6;                 // optional
  uint16_t agent_port = 0;
  uint32_t conn_table_size = 0;
  uint32_t conn_quota = 0;               // redirected connections per pod at once; 0 = no limit
  bool load_netfilter = false;           // load the pre-routing program (the kernel has netfilter links)
  std::vector<TargetRule> targets;
  std::vector<uint64_t> exempt_cgroup_ids;
};

// How each program ended up attached: a fresh link, or a program swapped into an existing pinned link (the
// link id is kept; a restart or upgrade opens no window).
struct AttachReport {
  std::string program;
  uint32_t link_id = 0;
  uint32_t prog_id = 0;
  bool reused_link = false;
};

using StatsSnapshot = std::array<uint64_t, PODID_STAT_MAX>;

class ImdsRedirectProbe {
 public:
  ~ImdsRedirectProbe();
  ImdsRedirectProbe(const ImdsRedirectProbe&) = delete;
  ImdsRedirectProbe& operator=(const ImdsRedirectProbe&) = delete;

  // Opens and loads the skeleton, reusing maps pinned under `pins` (created and pinned if absent), and
  // writes cfg, targets and exempt_cgroups. A pinned map whose shape differs (another conn_table_size,
  // another ABI) is refused with a message saying so.
  static Result<std::unique_ptr<ImdsRedirectProbe>> load(const PinLayout& pins, const RedirectSettings& s);

  // Attaches every program to s.attach_cgroup. For each, an existing pinned link on that cgroup gets the new
  // program by BPF_LINK_UPDATE with BPF_F_REPLACE (atomic; fails if another agent swapped it meanwhile); a
  // missing or dead link (ENOLINK: its cgroup was removed) or one on another cgroup is replaced by a new
  // link, pinned over the old one by rename, so there is no moment without a program.
  Result<std::vector<AttachReport>> attach();

  // Re-checks that every pinned link still holds this process's program on the right cgroup (the watchdog).
  Status verify_attached() const;

  // Sum over CPUs of every counter.
  Result<StatsSnapshot> read_stats() const;

  // Deletes conn_quota entries of pods holding no connection (the map would otherwise fill as pods come and
  // go). A slot taken between the read and the delete is lost to the count, never wrapped: the count is
  // signed. Returns how many were deleted.
  size_t collect_idle_quota();

  // Typed handles for the other agent parts (connection table, deny events, frame hooks).
  bpf_map* conn_ident_map() const;
  bpf_map* events_map() const;
  bpf_map* pod_ifaces_map() const;
  bpf_map* pod_addrs_map() const;
  bpf_map* uplinks_map() const;
  int prerouting_prog_fd() const;  // -1 when not loaded (no netfilter links on this kernel)
  int pod_iface_prog_fd() const;
  int uplink_prog_fd() const;

 private:
  ImdsRedirectProbe(imds_redirect* skel, PinLayout pins, RedirectSettings s);
  Status write_config();
  Status sync_targets();
  Status sync_exempt();

  imds_redirect* skel_;
  PinLayout pins_;
  RedirectSettings settings_;
};

// Removes every pin of every ABI version (links first, so programs detach, then maps) and the pin
// directories. Works without loading anything; missing pins are not an error. Returns the paths removed.
Result<std::vector<std::string>> uninstall_pins(const PinLayout& pins);

// After this version's links are attached: removes the pins of every other ABI version under pins.root,
// whose programs would otherwise keep running beside ours with maps we never read. Returns the paths removed.
Result<std::vector<std::string>> retire_older_abi_pins(const PinLayout& pins);

// Mounts bpffs at `dir` unless it is one already.
Status ensure_bpffs(const std::filesystem::path& dir);

// Human names of the stats indexes, for metrics and logs ("redirect", "deny_port", ...).
const char* stat_name(podid_stat stat);

}  // namespace podid::agent
