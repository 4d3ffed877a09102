// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/imds_redirect_probe.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "agent/bpf/imds_redirect_links.h"
#include "imds_redirect.skel.h"

namespace podid::agent {
namespace fs = std::filesystem;

namespace {

using Progs = decltype(imds_redirect::progs);

// Every program, its pin name and its skeleton member: the typed way in, no lookups by string.
struct ProgramSlot {
  const char* pin;
  bpf_program* Progs::*member;
};
// The cgroup programs, attached here. The frame programs (podid_prerouting, podid_pod_iface, podid_uplink)
// are attached by HostHooks.
constexpr ProgramSlot kPrograms[] = {
    {"connect4", &Progs::podid_connect4}, {"connect6", &Progs::podid_connect6},
    {"sendmsg4", &Progs::podid_sendmsg4}, {"sendmsg6", &Progs::podid_sendmsg6},
    {"sockops", &Progs::podid_sockops},   {"egress", &Progs::podid_egress},
    {"setsockopt", &Progs::podid_setsockopt},
};

// The QoS cgroups under kubepods (systemd or cgroupfs driver names): their children are pods. 0 if absent.
uint64_t cgroup_inode(const fs::path& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

uint64_t qos_cgroup_id(const fs::path& kubepods, const char* qos) {
  std::string systemd = kubepods.filename().string();
  if (systemd.size() > 6 && systemd.ends_with(".slice")) systemd.resize(systemd.size() - 6);
  uint64_t id = cgroup_inode(kubepods / (systemd + "-" + qos + ".slice"));
  return id ? id : cgroup_inode(kubepods / qos);
}

Result<bpf_link_info> link_info(int fd) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return last_os_error("read link info");
  return info;
}

Result<bpf_prog_info> prog_info(int fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return last_os_error("read program info");
  return info;
}

Result<podid_target_key> target_key(const TargetRule& rule, bool wildcard) {
  podid_target_key key{};
  key.proto = wildcard ? PODID_PROTO_ANY : rule.proto;
  key.port = wildcard ? 0 : htons(rule.port);
  if (::inet_pton(AF_INET, rule.addr.c_str(), key.addr) == 1) {
    key.family = PODID_AF_INET;
  } else if (::inet_pton(AF_INET6, rule.addr.c_str(), key.addr) == 1) {
    key.family = PODID_AF_INET6;
  } else {
    return os_error(EINVAL, "target address '" + rule.addr + "' is not an IP literal");
  }
  return key;
}

bool key_less(const podid_target_key& a, const podid_target_key& b) { return std::memcmp(&a, &b, sizeof(a)) < 0; }

}  // namespace

PinLayout PinLayout::under(const fs::path& bpffs, const std::string& name) {
  PinLayout p;
  p.root = bpffs / name;
  p.dir = p.root / ("v" + std::to_string(PODID_ABI_VERSION));
  p.maps = p.dir / "maps";
  p.links = p.dir / "links";
  return p;
}

Status ensure_bpffs(const fs::path& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC) return {};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (::mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0) return last_os_error("mount bpffs on " + dir.string());
  return {};
}

ImdsRedirectProbe::ImdsRedirectProbe(imds_redirect* skel, PinLayout pins, RedirectSettings s)
    : skel_(skel), pins_(std::move(pins)), settings_(std::move(s)) {}

// Destroying the skeleton closes our fds only: pinned links and maps stay, by design.
ImdsRedirectProbe::~ImdsRedirectProbe() { imds_redirect__destroy(skel_); }

Result<std::unique_ptr<ImdsRedirectProbe>> ImdsRedirectProbe::load(const PinLayout& pins, const RedirectSettings& s) {
  std::error_code ec;
  fs::create_directories(pins.maps, ec);
  if (ec) return os_error(ec.value(), "create pin directory " + pins.maps.string());
  fs::create_directories(pins.links, ec);
  if (ec) return os_error(ec.value(), "create pin directory " + pins.links.string());

  imds_redirect* skel = imds_redirect__open();
  if (!skel) return last_os_error("open imds_redirect skeleton");
  std::unique_ptr<ImdsRedirectProbe> probe(new ImdsRedirectProbe(skel, pins, s));

  if (int err = bpf_map__set_max_entries(skel->maps.conn_ident, s.conn_table_size); err) {
    return os_error(err, "size conn_ident");
  }
  // libbpf 1.1 knows no netfilter programs: the type is set here, or the program left out where the kernel
  // has no netfilter links (HostHooks then reports pre-routing as inactive).
  if (s.load_netfilter) {
    bpf_program__set_type(skel->progs.podid_prerouting, static_cast<bpf_prog_type>(kBpfProgTypeNetfilter));
    bpf_program__set_expected_attach_type(skel->progs.podid_prerouting,
                                          static_cast<bpf_attach_type>(kBpfAttachNetfilter));
  } else {
    bpf_program__set_autoload(skel->progs.podid_prerouting, false);
  }
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, skel->obj) {
    fs::path pin = pins.maps / bpf_map__name(map);
    if (int err = bpf_map__set_pin_path(map, pin.c_str()); err) return os_error(err, "set pin path " + pin.string());
  }
  if (int err = imds_redirect__load(skel); err) {
    return os_error(err, "load imds_redirect (a pinned map under " + pins.maps.string() +
                             " with another shape, e.g. another --conn-table-size, is refused: uninstall first, "
                             "or keep the size)");
  }
  if (auto st = probe->write_config(); !st) return st.error();
  if (auto st = probe->sync_targets(); !st) return st.error();
  if (auto st = probe->sync_exempt(); !st) return st.error();
  return probe;
}

Status ImdsRedirectProbe::write_config() {
  podid_config cfg{};
  __u32 zero = 0;
  podid_config old{};
  if (bpf_map__lookup_elem(skel_->maps.cfg, &zero, sizeof(zero), &old, sizeof(old), 0) == 0) {
    cfg.generation = old.generation + 1;
  }
  if (::inet_pton(AF_INET, settings_.agent_ip4.c_str(), &cfg.agent_ip4) != 1) {
    return os_error(EINVAL, "agent address '" + settings_.agent_ip4 + "' is not IPv4");
  }
  if (!settings_.agent_ip6.empty() && ::inet_pton(AF_INET6, settings_.agent_ip6.c_str(), cfg.agent_ip6) != 1) {
    return os_error(EINVAL, "agent address '" + settings_.agent_ip6 + "' is not IPv6");
  }
  cfg.agent_port = htons(settings_.agent_port);
  cfg.kubepods_level = static_cast<__u16>(settings_.kubepods_level);
  cfg.conn_quota = settings_.conn_quota;
  cfg.kubepods_cgroup_id = cgroup_inode(settings_.attach_cgroup);
  cfg.qos_cgroup_id[0] = qos_cgroup_id(settings_.attach_cgroup, "burstable");
  cfg.qos_cgroup_id[1] = qos_cgroup_id(settings_.attach_cgroup, "besteffort");
  std::set<uint32_t> ip4s;
  for (const auto& rule : settings_.targets) {
    in_addr a{};
    if (::inet_pton(AF_INET, rule.addr.c_str(), &a) == 1) ip4s.insert(a.s_addr);
  }
  if (ip4s.size() > PODID_TARGET_IP4_MAX) {
    cfg.target_ip4_count = PODID_TARGET_IP4_MANY;
  } else {
    for (uint32_t a : ip4s) cfg.target_ip4[cfg.target_ip4_count++] = a;
  }
  if (bpf_map__update_elem(skel_->maps.cfg, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY) != 0) {
    return last_os_error("write cfg");
  }
  return {};
}

// The map becomes exactly the configured rules plus, for every target address, its {any, any} presence
// marker (ALLOW unless a rule says otherwise). Upserts first, deletes after: no rule is ever missing
// in between.
Status ImdsRedirectProbe::sync_targets() {
  std::map<podid_target_key, podid_target_value, decltype(&key_less)> want(&key_less);
  for (const auto& rule : settings_.targets) {
    auto key = target_key(rule, false);
    if (!key) return key.error();
    want[*key] = podid_target_value{static_cast<__u8>(rule.action), 0, 0};
  }
  for (const auto& rule : settings_.targets) {
    auto marker = target_key(rule, true);
    if (!marker) return marker.error();
    want.try_emplace(*marker, podid_target_value{PODID_ACTION_ALLOW, 0, 0});
  }
  for (const auto& [key, value] : want) {
    if (bpf_map__update_elem(skel_->maps.targets, &key, sizeof(key), &value, sizeof(value), BPF_ANY) != 0) {
      return last_os_error("write targets");
    }
  }
  std::vector<podid_target_key> stale;
  podid_target_key cur{}, next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.targets, prev, &next, sizeof(next)) == 0) {
    if (!want.count(next)) stale.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (const auto& key : stale) bpf_map__delete_elem(skel_->maps.targets, &key, sizeof(key), 0);
  return {};
}

Status ImdsRedirectProbe::sync_exempt() {
  std::set<uint64_t> want(settings_.exempt_cgroup_ids.begin(), settings_.exempt_cgroup_ids.end());
  __u32 flags = 0;
  for (uint64_t id : want) {
    if (bpf_map__update_elem(skel_->maps.exempt_cgroups, &id, sizeof(id), &flags, sizeof(flags), BPF_ANY) != 0) {
      return last_os_error("write exempt_cgroups");
    }
  }
  std::vector<uint64_t> stale;
  uint64_t cur = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.exempt_cgroups, prev, &next, sizeof(next)) == 0) {
    if (!want.count(next)) stale.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (uint64_t id : stale) bpf_map__delete_elem(skel_->maps.exempt_cgroups, &id, sizeof(id), 0);
  return {};
}

Result<std::vector<AttachReport>> ImdsRedirectProbe::attach() {
  Fd cgroup(::open(settings_.attach_cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) return last_os_error("open cgroup " + settings_.attach_cgroup.string());
  struct stat cg_stat {};
  ::fstat(cgroup.get(), &cg_stat);

  std::vector<AttachReport> reports;
  for (const auto& slot : kPrograms) {
    bpf_program* prog = skel_->progs.*slot.member;
    fs::path pin = pins_.links / slot.pin;
    AttachReport report{.program = slot.pin};

    Fd pinned(bpf_obj_get(pin.c_str()));
    if (pinned.valid()) {
      auto info = link_info(pinned.get());
      if (info && info->type == BPF_LINK_TYPE_CGROUP && info->cgroup.cgroup_id == cg_stat.st_ino) {
        Fd old_prog(bpf_prog_get_fd_by_id(info->prog_id));
        LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE, .old_prog_fd = static_cast<__u32>(old_prog.get()));
        int err = old_prog.valid() ? bpf_link_update(pinned.get(), bpf_program__fd(prog), &opts) : -ENOENT;
        if (err == 0) {
          report.reused_link = true;
          report.link_id = info->id;
          if (auto pi = prog_info(bpf_program__fd(prog))) report.prog_id = pi->id;
          reports.push_back(report);
          continue;
        }
        // ENOLINK: the cgroup went away under the link. Anything else (EPERM from a racing agent) is fatal.
        if (err != -ENOLINK) return os_error(err, "swap program in pinned link " + pin.string());
      }
    }

    bpf_link* link = bpf_program__attach_cgroup(prog, cgroup.get());
    if (!link) {
      int err = errno;
      return os_error(err, std::string("attach ") + slot.pin + " to " + settings_.attach_cgroup.string() +
                               (err == EPERM ? " (an ancestor may hold a non-multi attachment; run 'podid-agent probe')"
                                             : ""));
    }
    // Pin beside, then rename over the old pin: the old link (if any) detaches only once the new one is live.
    fs::path tmp = pin;
    tmp += "_new";  // bpffs refuses dots in names (reserved for internal files)
    ::unlink(tmp.c_str());
    int err = bpf_link__pin(link, tmp.c_str());
    if (err == 0 && ::rename(tmp.c_str(), pin.c_str()) != 0) err = -errno;
    if (err != 0) {
      bpf_link__destroy(link);
      return os_error(err, "pin link " + pin.string());
    }
    if (auto li = link_info(bpf_link__fd(link))) {
      report.link_id = li->id;
      report.prog_id = li->prog_id;
    }
    bpf_link__destroy(link);  // closes our fd; the pin keeps the link
    reports.push_back(report);
  }
  return reports;
}

Status ImdsRedirectProbe::verify_attached() const {
  struct stat cg_stat {};
  if (::stat(settings_.attach_cgroup.c_str(), &cg_stat) != 0) {
    return last_os_error("stat attach cgroup " + settings_.attach_cgroup.string());
  }
  for (const auto& slot : kPrograms) {
    fs::path pin = pins_.links / slot.pin;
    Fd link(bpf_obj_get(pin.c_str()));
    if (!link.valid()) return last_os_error("open pinned link " + pin.string());
    auto info = link_info(link.get());
    if (!info) return info.error().wrap(pin.string());
    auto mine = prog_info(bpf_program__fd(skel_->progs.*slot.member));
    if (!mine) return mine.error();
    if (info->prog_id != mine->id) return os_error(ESTALE, pin.string() + " holds another program (another agent?)");
    if (info->cgroup.cgroup_id != cg_stat.st_ino) return os_error(ESTALE, pin.string() + " is attached to another cgroup");
  }
  return {};
}

Result<StatsSnapshot> ImdsRedirectProbe::read_stats() const {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return os_error(ncpu, "count possible CPUs");
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  StatsSnapshot out{};
  for (__u32 i = 0; i < PODID_STAT_MAX; ++i) {
    if (bpf_map__lookup_elem(skel_->maps.stats, &i, sizeof(i), per_cpu.data(), per_cpu.size() * sizeof(uint64_t), 0)) {
      return last_os_error("read stats");
    }
    for (uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

size_t ImdsRedirectProbe::collect_idle_quota() {
  std::vector<uint64_t> idle;
  uint64_t cur = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.conn_quota, prev, &next, sizeof(next)) == 0) {
    int64_t used = 0;
    if (bpf_map__lookup_elem(skel_->maps.conn_quota, &next, sizeof(next), &used, sizeof(used), 0) == 0 && used <= 0) {
      idle.push_back(next);
    }
    cur = next;
    prev = &cur;
  }
  size_t deleted = 0;
  for (uint64_t pod : idle) deleted += bpf_map__delete_elem(skel_->maps.conn_quota, &pod, sizeof(pod), 0) == 0;
  return deleted;
}

bpf_map* ImdsRedirectProbe::conn_ident_map() const { return skel_->maps.conn_ident; }
bpf_map* ImdsRedirectProbe::events_map() const { return skel_->maps.events; }
bpf_map* ImdsRedirectProbe::pod_ifaces_map() const { return skel_->maps.pod_ifaces; }
bpf_map* ImdsRedirectProbe::pod_addrs_map() const { return skel_->maps.pod_addrs; }
bpf_map* ImdsRedirectProbe::uplinks_map() const { return skel_->maps.uplinks; }
int ImdsRedirectProbe::prerouting_prog_fd() const {
  return settings_.load_netfilter ? bpf_program__fd(skel_->progs.podid_prerouting) : -1;
}
int ImdsRedirectProbe::pod_iface_prog_fd() const { return bpf_program__fd(skel_->progs.podid_pod_iface); }
int ImdsRedirectProbe::uplink_prog_fd() const { return bpf_program__fd(skel_->progs.podid_uplink); }

namespace {

// One version's pins under root/v<N>: links first (their programs detach), then maps, then the directories.
Status remove_version_pins(const fs::path& version_dir, std::vector<std::string>& removed) {
  for (const fs::path& dir : {version_dir / "links", version_dir / "maps"}) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (::unlink(entry.path().c_str()) != 0) return last_os_error("unpin " + entry.path().string());
      removed.push_back(entry.path().string());
    }
  }
  for (const fs::path& dir : {version_dir / "links", version_dir / "maps", version_dir}) {
    if (::rmdir(dir.c_str()) == 0) removed.push_back(dir.string());
    else if (errno != ENOENT) return last_os_error("remove " + dir.string());
  }
  return {};
}

// The version directories (v1, v2, ...) under root, this agent's included.
std::vector<fs::path> version_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == 'v' && name.find_first_not_of("0123456789", 1) == std::string::npos) {
      out.push_back(entry.path());
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> uninstall_pins(const PinLayout& pins) {
  std::vector<std::string> removed;
  for (const fs::path& dir : version_dirs(pins.root)) {
    if (auto st = remove_version_pins(dir, removed); !st) return st.error();
  }
  if (::rmdir(pins.root.c_str()) == 0) removed.push_back(pins.root.string());
  else if (errno != ENOENT) return last_os_error("remove " + pins.root.string());
  return removed;
}

Result<std::vector<std::string>> retire_older_abi_pins(const PinLayout& pins) {
  std::vector<std::string> removed;
  for (const fs::path& dir : version_dirs(pins.root)) {
    if (dir == pins.dir) continue;
    if (auto st = remove_version_pins(dir, removed); !st) return st.error();
  }
  return removed;
}

const char* stat_name(podid_stat stat) {
  switch (stat) {
    case PODID_STAT_REDIRECT: return "redirect";
    case PODID_STAT_EXEMPT: return "exempt";
    case PODID_STAT_ALLOW: return "allow";
    case PODID_STAT_DENY_PORT: return "deny_port";
    case PODID_STAT_DENY_NON_TCP: return "deny_non_tcp";
    case PODID_STAT_DENY_SENDMSG: return "deny_sendmsg";
    case PODID_STAT_DENY_NAT64: return "deny_nat64";
    case PODID_STAT_DENY_NO_AGENT6: return "deny_no_agent6";
    case PODID_STAT_DENY_NO_STORAGE: return "deny_no_storage";
    case PODID_STAT_EGRESS_DROP: return "egress_drop";
    case PODID_STAT_EGRESS_DROP_RAW: return "egress_drop_raw";
    case PODID_STAT_CONN_RECORDED: return "conn_recorded";
    case PODID_STAT_CONN_COLLISION: return "conn_collision";
    case PODID_STAT_CONN_MAP_FULL: return "conn_map_full";
    case PODID_STAT_CONN_CLOSED: return "conn_closed";
    case PODID_STAT_EVENT_DROPPED: return "event_dropped";
    case PODID_STAT_CONN_OVER_QUOTA: return "conn_over_quota";
    case PODID_STAT_DENY_CONN_QUOTA: return "deny_conn_quota";
    case PODID_STAT_QUOTA_MAP_FULL: return "quota_map_full";
    case PODID_STAT_PREROUTING_DROP: return "prerouting_drop";
    case PODID_STAT_IFACE_TARGET_DROP: return "pod_iface_target_drop";
    case PODID_STAT_IFACE_UNKNOWN: return "pod_iface_unknown";
    case PODID_STAT_SPOOF_MAC: return "spoof_mac";
    case PODID_STAT_SPOOF_ARP: return "spoof_arp";
    case PODID_STAT_SPOOF_IP: return "spoof_ip";
    case PODID_STAT_SPOOF_ND: return "spoof_nd";
    case PODID_STAT_ETHERTYPE_DROP: return "ethertype_drop";
    case PODID_STAT_UPLINK_DROP: return "uplink_drop";
    case PODID_STAT_DENY_SOCKOPT: return "deny_sockopt";
    case PODID_STAT_EVENT_SUPPRESSED: return "event_suppressed";
    case PODID_STAT_MAX: break;
  }
  return "unknown";
}

}  // namespace podid::agent
