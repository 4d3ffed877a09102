// SPDX-License-Identifier: Apache-2.0
#include "agent/agent.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>

#include "agent/api/routes.h"
#include "agent/bpf/imds_redirect_probe.h"
#include "agent/bpf/imds_redirect_features.h"
#include "agent/bpf/imds_redirect_pod_ifaces.h"
#include "agent/cgroup/cgroup_fs.h"
#include "agent/cgroup/cgroup_index.h"
#include "agent/bpf/imds_redirect_deny_events.h"
#include "agent/imds/imds_errors.h"
#include "agent/metrics.h"
#include "agent/serve/token_path.h"
#include "podid/http/ops_routes.h"
#include "podid/http/server.h"
#include "podid/log.h"

namespace podid::agent {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr std::chrono::seconds kWatchdogInterval{5};

log::Level parse_level(const std::string& s) {
  if (s == "debug") return log::Level::kDebug;
  if (s == "warn") return log::Level::kWarn;
  if (s == "error") return log::Level::kError;
  return log::Level::kInfo;
}

int refuse_start(const std::string& why, nlohmann::json fields = nlohmann::json::object()) {
  fields["reason"] = why;
  log::error("podid-agent cannot start", fields);
  std::cerr << "podid-agent: " << why << "\n";
  return 1;
}

struct Host {
  fs::path mount;
  fs::path attach_dir;
  int level = 0;
};

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
      return os_error(ENOENT, "no kubepods cgroup under " + mount->string() + " (kubepods.slice or kubepods); set --cgroup-path");
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

asio::ip::tcp::endpoint endpoint_of(const std::string& addr, uint16_t port) {
  return {asio::ip::make_address(addr), port};
}

// The peer's address as pods' IPs are written in the API (an IPv4-mapped IPv6 peer as plain IPv4).
std::string peer_ip_of(const http::tcp::socket& socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return {};
  auto addr = remote.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string();
  }
  return addr.to_string();
}

std::string to_string(const asio::ip::tcp::endpoint& e) {
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}

void schedule_watchdog(asio::steady_timer& timer, ImdsRedirectProbe& probe, AgentMetrics& metrics) {
  timer.expires_after(kWatchdogInterval);
  timer.async_wait([&timer, &probe, &metrics](boost::system::error_code ec) {
    if (ec) return;
    probe.collect_idle_quota();
    auto ok = probe.verify_attached();
    metrics.set_programs_attached(ok.ok());
    if (!ok) {
      metrics.watchdog_failure();
      log::error("kernel programs not attached as expected", {{"error", ok.error().message()}});
    }
    schedule_watchdog(timer, probe, metrics);
  });
}

nlohmann::json frame_hook_states(const std::optional<HostHookSet>& hooks) {
  nlohmann::json out = nlohmann::json::object();
  if (hooks) {
    for (const auto& h : hooks->hooks->states()) out[h.name] = {{"active", h.active}, {"detail", h.detail}};
  }
  return out;
}

}  // namespace

int run_agent(const AgentConfig& config) {
  log::set_min_level(parse_level(config.log_level));

  auto host = resolve_host(config);
  if (!host) return refuse_start(host.error().message());
  auto problems = probe_kernel_features();
  auto exclusive = probe_exclusive_attachments(host->mount, host->attach_dir);
  problems.insert(problems.end(), exclusive.begin(), exclusive.end());
  if (!problems.empty()) return refuse_start("this host cannot run podid:\n" + describe(problems));

  // The frame hooks this kernel can run (agent/bpf/imds_redirect_host_hooks.h), or a clear refusal.
  HostHookSupport hook_support;
  if (config.host_hooks != HostHooksMode::kOff) {
    hook_support = probe_host_hook_support();
    if (config.host_hooks == HostHooksMode::kRequire && !(hook_support.netfilter && hook_support.tcx)) {
      return refuse_start("--host-hooks require: " + hook_support.netfilter_why +
                          (hook_support.netfilter_why.empty() || hook_support.tcx_why.empty() ? "" : "; ") +
                          hook_support.tcx_why);
    }
  }

  // Before any thread exists: self_cgroup_id may fork.
  auto self_id = self_cgroup_id(host->mount, ::getpid());
  if (!self_id) return refuse_start(self_id.error().message());
  RedirectSettings settings{
      .attach_cgroup = host->attach_dir,
      .kubepods_level = host->level,
      .agent_ip4 = config.listen_address,
      .agent_ip6 = config.listen_address6,
      .agent_port = config.listen_port,
      .conn_table_size = config.conn_table_size,
      .conn_quota = config.conn_quota_per_pod,
      .load_netfilter = hook_support.netfilter,
      .targets = config.targets,
      .exempt_cgroup_ids = {*self_id},
  };
  for (const auto& dir : config.exempt_cgroups) {
    auto id = cgroup_id_of(dir);
    if (!id) return refuse_start(id.error().wrap("--exempt-cgroup").message());
    settings.exempt_cgroup_ids.push_back(*id);
  }

  if (auto st = ensure_bpffs(config.bpffs); !st) return refuse_start(st.error().message());
  PinLayout pins = PinLayout::under(config.bpffs, config.pin_name);

  asio::io_context io(1);
  AgentMetrics metrics;
  http::Server server(io, [&metrics](std::string_view listener, std::string_view reason) {
    metrics.http_refused(listener, reason);
  });
  CgroupIndex cgroups(host->mount, host->attach_dir);
  std::unique_ptr<TokenPath> token_path;
  if (config.kube_enabled) {
    auto made = TokenPath::create(io, config, host->attach_dir, metrics.registry());
    if (!made) return refuse_start(made.error().message());
    token_path = std::move(*made);
  }

  // Listen before attaching: from the moment the kernel redirects, the backlog holds the connections.
  std::unique_ptr<ImdsRedirectProbe> probe;
  std::unique_ptr<BpfConnTable> table;
  SystemMonotonicClock clock;
  std::unique_ptr<Attributor> attributor;
  auto on_pod_connection = [&](http::tcp::socket& socket) -> http::Admission {
    sockaddr_storage peer{}, local{};
    socklen_t plen = sizeof(peer), llen = sizeof(local);
    ::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&peer), &plen);
    ::getsockname(socket.native_handle(), reinterpret_cast<sockaddr*>(&local), &llen);
    auto result = attributor->attribute(peer, local);
    if (auto* refusal = std::get_if<Refusal>(&result)) {
      metrics.connection_refused(*refusal);
      boost::system::error_code ec;
      auto remote = socket.remote_endpoint(ec);
      log::warn("connection refused", {{"audit", true},
                                       {"reason", std::string(refusal_name(*refusal))},
                                       {"peer", ec ? std::string("?") : to_string(remote)}});
      return http::sync_handler([r = *refusal](const http::Request& req) { return handle_refused(req, r); });
    }
    auto& attributed = std::get<Attribution>(result);
    metrics.connection_attributed();
    const podid_caller& kernel = attributed.ident.caller;
    if (!token_path) {
      // Kernel path only: the diagnostic endpoint says what the kernel recorded.
      CallerView view{.ident = attributed.ident, .record_age = attributed.age};
      view.cgroup_path = cgroups.path_of(kernel.cgroup_id);
      for (int i = 0; i < 2; ++i) view.ancestor_path[i] = cgroups.path_of(kernel.ancestor_cgroup_id[i]);
      return http::sync_handler([view](const http::Request& req) { return handle_attributed(req, view); });
    }
    Caller caller{.cgroup_id = kernel.cgroup_id,
                  .ancestor_cgroup_id = {kernel.ancestor_cgroup_id[0], kernel.ancestor_cgroup_id[1]},
                  .tgid = static_cast<uint32_t>(kernel.pid_tgid >> 32),
                  .peer_ip = peer_ip_of(socket)};
    caller.pod_uid = token_path->service().pod_uid_of(caller.cgroup_id, caller.ancestor_cgroup_id);
    std::shared_ptr<void> slot;
    if (!caller.pod_uid.empty()) {
      slot = token_path->acquire_connection_slot(caller.pod_uid);
      if (!slot) {
        // Answered at once and closed, reading nothing: a pod over its cap holds no descriptor for long.
        log::warn("connection refused: too many connections from one pod", {{"audit", true}, {"pod_uid", caller.pod_uid}});
        http::Request none;
        none.version(11);
        return http::AnswerAndClose{imds::to_response(none, imds::too_many_requests(std::chrono::seconds(1)))};
      }
    }
    CallerView view{.ident = attributed.ident, .record_age = attributed.age};
    ImdsService& service = token_path->service();
    return [&service, caller, view, slot](const http::Request& req) -> asio::awaitable<http::Response> {
      if (req.target().starts_with(kWhoamiPath)) co_return handle_attributed(req, view);
      co_return co_await service.handle(req, caller);
    };
  };
  auto redirect = server.listen(endpoint_of(config.listen_address, config.listen_port), on_pod_connection, "redirect");
  if (!redirect) {
    return refuse_start(redirect.error().message() +
                        " (the redirect address must exist on this host, e.g. on a dummy interface)");
  }
  std::optional<http::tcp::endpoint> redirect6;
  if (!config.listen_address6.empty()) {
    auto r6 = server.listen(endpoint_of(config.listen_address6, config.listen_port), on_pod_connection, "redirect6");
    if (!r6) return refuse_start(r6.error().message());
    redirect6 = *r6;
  }

  auto loaded = ImdsRedirectProbe::load(pins, settings);
  if (!loaded) return refuse_start(loaded.error().message());
  probe = std::move(*loaded);
  table = std::make_unique<BpfConnTable>(probe->conn_ident_map());
  attributor = std::make_unique<Attributor>(*table, clock, config.max_entry_age);
  auto attached = probe->attach();
  if (!attached) return refuse_start(attached.error().message());
  if (token_path) {
    if (auto st = token_path->start(); !st) return refuse_start(st.error().message());
  }
  metrics.set_programs_attached(true);
  metrics.track_kernel_stats([&probe] { return probe->read_stats(); });

  // Frame hooks: attached, and every pod interface covered, before the first connection is served.
  std::optional<HostHookSet> frame_hooks;
  if (config.host_hooks != HostHooksMode::kOff) {
    auto started = start_host_hooks(*probe, pins, hook_support,
                                    {.uplinks = config.uplinks, .pod_interface_prefixes = config.pod_interface_prefixes},
                                    metrics.registry());
    if (!started) return refuse_start(started.error().message());
    frame_hooks = std::move(*started);
  } else if (auto removed = remove_host_hook_pins(pins); !removed) {
    log::error("could not remove the frame hooks (--host-hooks off)", {{"error", removed.error().message()}});
  } else if (!removed->empty()) {
    log::info("frame hooks removed (--host-hooks off)", {{"removed", *removed}});
  }
  if (auto retired = retire_older_abi_pins(pins); !retired) {
    log::error("could not remove an older version's kernel programs", {{"error", retired.error().message()}});
  } else if (!retired->empty()) {
    log::info("older version's kernel programs removed", {{"removed", *retired}});
  }

  DenyEventReader deny_events(probe->events_map(),
                              {.cgroup_path = [&cgroups](uint64_t id) { return cgroups.path_of(id); },
                               .count = [&metrics](const std::string& r, const std::string& h) { metrics.deny_event(r, h); },
                               .pod_interface = [&frame_hooks](uint32_t ifindex) -> std::optional<PodInterface> {
                                 return frame_hooks ? frame_hooks->hooks->describe(ifindex) : std::nullopt;
                               }});
  if (auto st = deny_events.start(); !st) return refuse_start(st.error().message());

  bool serving = true;
  http::OpsState ops{
      .live = [&serving] { return serving; },
      // Ready = programs attached, listener up (it is, or we would not be here), caches synced.
      .ready = [&probe, &token_path, &frame_hooks] {
        auto ok = probe->verify_attached();
        if (!ok) return "kernel programs not attached: " + ok.error().message();
        if (frame_hooks) {
          if (auto why = frame_hooks->hooks->problems(); !why.empty()) return why;
        }
        if (token_path) {
          if (auto why = token_path->not_ready_reason(); !why.empty()) return why;
          token_path->remove_startup_taint();
        }
        return std::string();
      },
      .metrics = [&metrics] { return metrics.serialize(); },
      .detail = [&frame_hooks] {
        if (!frame_hooks) return std::string("frame hooks: off (--host-hooks off)\n");
        std::string out;
        for (const auto& h : frame_hooks->hooks->states()) {
          out += "frame hook " + h.name + ": " + (h.active ? "active" : "inactive") +
                 (h.detail.empty() ? "" : " (" + h.detail + ")") + "\n";
        }
        return out;
      },
  };
  auto ops_ep = server.listen(endpoint_of(config.ops_address, config.ops_port),
                              [&ops](http::tcp::socket&) -> http::Handler {
                                return http::sync_handler([&ops](const http::Request& req) { return http::handle_ops(req, ops); });
                              },
                              "ops");
  if (!ops_ep) return refuse_start(ops_ep.error().message());

  nlohmann::json links = nlohmann::json::array();
  for (const auto& a : *attached) {
    links.push_back({{"program", a.program}, {"link_id", a.link_id}, {"prog_id", a.prog_id}, {"reused_link", a.reused_link}});
  }
  log::info("serving", {{"redirect", to_string(*redirect)},
                        {"redirect6", redirect6 ? to_string(*redirect6) : ""},
                        {"ops", to_string(*ops_ep)},
                        {"attach_cgroup", host->attach_dir.string()},
                        {"kubepods_level", host->level},
                        {"self_cgroup_id", *self_id},
                        {"pins", pins.dir.string()},
                        {"links", links},
                        {"frame_hooks", frame_hook_states(frame_hooks)}});

  asio::steady_timer watchdog(io);
  schedule_watchdog(watchdog, *probe, metrics);
  // SIGTERM and SIGINT stop serving and leave everything attached: pods get ECONNREFUSED until the next
  // agent takes over the pinned links. Never a window in which they reach the real service.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    serving = false;
    log::info("stopping; kernel programs stay attached", {{"signal", sig}});
    server.stop();
    if (token_path) token_path->stop();
    if (frame_hooks && frame_hooks->watcher) frame_hooks->watcher->stop();
    watchdog.cancel();
    io.stop();
  });
  // Sessions catch what they throw (http/server.h). This is the last net: an exception from any other
  // handler is logged and counted, and the loop goes on serving instead of aborting the node's agent.
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      metrics.internal_error();
      log::error("internal error; serving continues", {{"error", e.what()}});
    } catch (...) {
      metrics.internal_error();
      log::error("internal error; serving continues", {{"error", "unknown exception"}});
    }
  }
  deny_events.stop();
  return 0;
}

int uninstall_agent(const AgentConfig& config) {
  log::set_min_level(parse_level(config.log_level));
  PinLayout pins = PinLayout::under(config.bpffs, config.pin_name);
  auto removed = uninstall_pins(pins);
  if (!removed) {
    log::error("uninstall failed", {{"error", removed.error().message()}});
    return 1;
  }
  log::info("uninstalled: programs detached, pins removed", {{"removed", *removed}, {"pins", pins.root.string()}});
  return 0;
}

int probe_host(const AgentConfig& config) {
  auto host = resolve_host(config);
  auto problems = probe_kernel_features();
  if (host) {
    auto exclusive = probe_exclusive_attachments(host->mount, host->attach_dir);
    problems.insert(problems.end(), exclusive.begin(), exclusive.end());
  } else {
    problems.push_back({"kubepods cgroup", host.error().message()});
  }
  if (problems.empty()) {
    std::cout << "podid-agent probe: this host can run podid (attach cgroup " << host->attach_dir.string()
              << ", level " << host->level << ")\n";
    return 0;
  }
  std::cout << "podid-agent probe: this host cannot run podid:\n" << describe(problems);
  return 1;
}

}  // namespace podid::agent
