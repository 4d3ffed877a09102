// SPDX-License-Identifier: Apache-2.0
#include "agent/agent.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iostream>

#include "agent/bpf/imds_redirect_deny_events.h"
#include "agent/bpf/imds_redirect_features.h"
#include "agent/bpf/imds_redirect_pod_ifaces.h"
#include "agent/bpf/imds_redirect_probe.h"
#include "agent/cgroup/cgroup_fs.h"
#include "agent/cgroup/cgroup_index.h"
#include "agent/cluster/startup_taint.h"
#include "agent/host.h"
#include "agent/metrics.h"
#include "agent/serve/admission.h"
#include "agent/serve/decision_routes.h"
#include "agent/serve/token_stack.h"
#include "podid/http/ops_routes.h"
#include "podid/http/server.h"
#include "podid/log.h"
#include "podid/spawn.h"
#include "podid/startup.h"

namespace podid::agent {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kProgram = "podid-agent";
constexpr std::chrono::seconds kWatchdogInterval{5};
// After SIGTERM, requests being served get this long to finish; then the process exits regardless.
constexpr std::chrono::seconds kShutdownGrace{5};

int refuse(const std::string& why) { return refuse_start(kProgram, why); }

asio::ip::tcp::endpoint endpoint_of(const std::string& addr, uint16_t port) {
  return {asio::ip::make_address(addr), port};
}

std::string to_string(const asio::ip::tcp::endpoint& e) {
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}

void schedule_watchdog(asio::steady_timer& timer, ImdsRedirectProbe& probe, AgentMetrics& metrics) {
  timer.expires_after(kWatchdogInterval);
  timer.async_wait([&timer, &probe, &metrics](boost::system::error_code ec) {
    if (ec) return;
    auto ok = probe.verify_attached();
    probe.collect_idle_quota();
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

// What the kernel programs need from this host and this configuration.
Result<RedirectSettings> redirect_settings(const AgentConfig& config, const Host& host, const HostHookSupport& hooks) {
  // self_cgroup_id may fork: called before any thread exists.
  auto self_id = self_cgroup_id(host.mount, ::getpid());
  if (!self_id) return self_id.error();
  RedirectSettings settings{
      .attach_cgroup = host.attach_dir,
      .kubepods_level = host.level,
      .agent_ip4 = config.listen_address,
      .agent_ip6 = config.listen_address6,
      .agent_port = config.listen_port,
      .conn_table_size = config.conn_table_size,
      .conn_quota = config.conn_quota_per_pod,
      .load_netfilter = hooks.netfilter,
      .targets = config.targets,
      .exempt_cgroup_ids = {*self_id},
  };
  for (const auto& dir : config.exempt_cgroups) {
    auto id = cgroup_id_of(dir);
    if (!id) return id.error().wrap("--exempt-cgroup");
    settings.exempt_cgroup_ids.push_back(*id);
  }
  return settings;
}

// Runs io until it stops; an exception that reaches here (sessions catch their own, http/server.h) is logged
// and counted, and serving goes on instead of aborting the node's agent.
void run_forever(asio::io_context& io, AgentMetrics& metrics) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (...) {
      metrics.internal_error();
      log::error("internal error; serving continues", {{"error", describe_exception(std::current_exception())}});
    }
  }
}

// SIGTERM/SIGINT: stop accepting, let requests being served finish (up to kShutdownGrace), then stop. The
// kernel programs stay attached: pods get ECONNREFUSED until the next agent takes over the pinned links,
// never a window in which they reach the real service.
asio::awaitable<void> shut_down(asio::io_context& io, http::Server& server, TokenStack* stack, CgroupIndex& cgroups,
                                asio::steady_timer& watchdog, int signal) {
  log::info("stopping; kernel programs stay attached", {{"signal", signal}});
  server.stop();
  if (stack) stack->stop();
  cgroups.stop();
  watchdog.cancel();
  asio::steady_timer wait(io);
  const auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
  while (server.busy_sessions() > 0 && std::chrono::steady_clock::now() < deadline) {
    wait.expires_after(std::chrono::milliseconds(20));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (server.busy_sessions() > 0) {
    log::warn("stopping with requests unanswered", {{"requests", server.busy_sessions()}});
  }
  io.stop();
}

}  // namespace

int run_agent(const AgentConfig& config) {
  log::set_min_level(log::parse_level(config.log_level).value_or(log::Level::kInfo));

  auto host = resolve_host(config);
  if (!host) return refuse(host.error().message());
  if (auto problems = host_problems(host); !problems.empty()) return refuse("this host cannot run podid:\n" + problems);
  // The frame hooks this kernel can run (agent/bpf/imds_redirect_host_hooks.h), or a clear refusal.
  HostHookSupport hook_support;
  if (config.host_hooks != HostHooksMode::kOff) {
    hook_support = probe_host_hook_support();
    if (config.host_hooks == HostHooksMode::kRequire && !(hook_support.netfilter && hook_support.tcx)) {
      return refuse("--host-hooks require: " + hook_support.netfilter_why +
                    (hook_support.netfilter_why.empty() || hook_support.tcx_why.empty() ? "" : "; ") +
                    hook_support.tcx_why);
    }
  }
  auto settings = redirect_settings(config, *host, hook_support);
  if (!settings) return refuse(settings.error().message());
  if (auto st = ensure_bpffs(config.bpffs); !st) return refuse(st.error().message());
  auto descriptors = raise_descriptor_limit();
  if (!descriptors) log::warn("descriptor limit not raised", {{"error", descriptors.error().message()}});
  PinLayout pins = PinLayout::under(config.bpffs, config.pin_name);

  asio::io_context io(1);
  AgentMetrics metrics;
  http::Server server(io, [&metrics](std::string_view listener, std::string_view reason) {
    metrics.http_refused(listener, reason);
  });
  // The one index of the kubepods tree: pods for the token path, paths for whoami and deny events.
  CgroupIndex cgroups(io.get_executor(), host->attach_dir,
                      "/" + std::filesystem::relative(host->attach_dir, host->mount).string());
  std::unique_ptr<TokenStack> stack;
  if (config.kube_enabled) {
    auto made = TokenStack::create(io, config, cgroups, metrics.registry());
    if (!made) return refuse(made.error().message());
    stack = std::move(*made);
  }

  // Listen before attaching: from the moment the kernel redirects, the backlog holds the connections. Nothing
  // is accepted before io runs, by which time the admission exists.
  std::unique_ptr<ConnectionAdmission> admission;
  auto on_pod_connection = [&admission](http::tcp::socket& socket) { return admission->admit(socket); };
  auto redirect = server.listen(endpoint_of(config.listen_address, config.listen_port), on_pod_connection, "redirect");
  if (!redirect) {
    return refuse(redirect.error().message() + " (the redirect address must exist on this host, e.g. on a dummy interface)");
  }
  std::optional<http::tcp::endpoint> redirect6;
  if (!config.listen_address6.empty()) {
    auto r6 = server.listen(endpoint_of(config.listen_address6, config.listen_port), on_pod_connection, "redirect6");
    if (!r6) return refuse(r6.error().message());
    redirect6 = *r6;
  }

  auto loaded = ImdsRedirectProbe::load(pins, *settings);
  if (!loaded) return refuse(loaded.error().message());
  std::unique_ptr<ImdsRedirectProbe> probe = std::move(*loaded);
  BpfConnTable table(probe->conn_ident_map());
  SystemMonotonicClock clock;
  Attributor attributor(table, clock, config.max_entry_age);
  TokenMetrics* token_metrics = stack ? &stack->service().metrics() : nullptr;
  admission = std::make_unique<ConnectionAdmission>(
      AdmissionDeps{
          .attributor = attributor,
          .counters = {.attributed = [&metrics] { metrics.connection_attributed(); },
                       .refused = [&metrics](std::string_view outcome) { metrics.connection_refused(outcome); },
                       .pod_over_cap = [token_metrics] {
                         if (token_metrics) token_metrics->pod_resolution_failure("too_many_connections");
                       }},
          .cgroup_path_of = [&cgroups](uint64_t id) { return cgroups.path_of(id); },
          .pod_uid_of = stack ? PodUidOf([&stack](const podid_caller& k) { return stack->service().pod_uid_of(k); })
                              : PodUidOf(),
          .imds = stack ? ImdsHandler([&stack](const http::Request& req, const Caller& caller) {
                    return stack->service().handle(req, caller);
                  })
                        : ImdsHandler(),
      },
      config.max_connections_per_pod);

  auto attached = probe->attach();
  if (!attached) return refuse(attached.error().message());
  if (auto st = cgroups.start(); !st) return refuse(st.error().wrap("cgroup index").message());
  if (stack) {
    if (auto st = stack->start(); !st) return refuse(st.error().message());
  }
  metrics.set_programs_attached(true);
  metrics.track_kernel_stats([&probe] { return probe->read_stats(); });
  metrics.track_http_sessions([&server] { return server.open_sessions(); }, [&server] { return server.busy_sessions(); });

  // Frame hooks: attached, and every pod interface covered, before the first connection is served.
  std::optional<HostHookSet> frame_hooks;
  if (config.host_hooks != HostHooksMode::kOff) {
    auto started = start_host_hooks(*probe, pins, hook_support,
                                    {.uplinks = config.uplinks, .pod_interface_prefixes = config.pod_interface_prefixes},
                                    metrics.registry());
    if (!started) return refuse(started.error().message());
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
  if (auto st = deny_events.start(); !st) return refuse(st.error().message());

  bool serving = true;
  // Ready = programs attached, listener up (it is, or we would not be here), caches synced.
  auto not_ready = [&probe, &stack, &frame_hooks]() -> std::string {
    if (auto ok = probe->verify_attached(); !ok) return "kernel programs not attached: " + ok.error().message();
    if (frame_hooks) {
      if (auto why = frame_hooks->hooks->problems(); !why.empty()) return why;
    }
    return stack ? stack->not_ready_reason() : std::string();
  };
  http::OpsState ops{
      .live = [&serving] { return serving; },
      .ready = not_ready,
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
                              [&ops](http::tcp::socket&) -> http::Admission {
                                return http::sync_handler([&ops](const http::Request& req) { return http::handle_ops(req, ops); });
                              },
                              "ops");
  if (!ops_ep) return refuse(ops_ep.error().message());
  std::optional<http::tcp::endpoint> decisions_ep;
  DecisionsView decisions_view;
  if (stack) {
    decisions_view = DecisionsView{
        .node = config.node_name,
        .log = &stack->decisions(),
        .pod_cgroup = [&cgroups](const std::string& uid) -> std::optional<PodCgroup> {
          auto found = cgroups.pod_cgroup_of(uid);
          if (!found) return std::nullopt;
          return PodCgroup{.id = found->first, .path = std::move(found->second)};
        },
        .cgroup_path = [&cgroups](uint64_t id) { return cgroups.path_of(id); },
    };
    auto refused = [&metrics] { metrics.http_refused("decisions", "not_node_local"); };
    auto ep = server.listen(endpoint_of(config.decisions_address, config.decisions_port),
                            decisions_listener(decisions_view, refused), "decisions");
    if (!ep) return refuse(ep.error().message());
    decisions_ep = *ep;
  }

  std::unique_ptr<StartupTaint> taint;
  if (stack && !config.startup_taint.empty()) {
    taint = std::make_unique<StartupTaint>(stack->api(), config.node_name, config.startup_taint);
    spawn_logged(io.get_executor(), taint->remove_when_ready([&not_ready] { return not_ready().empty(); }), "startup taint removal");
  }

  nlohmann::json links = nlohmann::json::array();
  for (const auto& a : *attached) {
    links.push_back({{"program", a.program}, {"link_id", a.link_id}, {"prog_id", a.prog_id}, {"reused_link", a.reused_link}});
  }
  log::info("serving", {{"redirect", to_string(*redirect)},
                        {"redirect6", redirect6 ? to_string(*redirect6) : ""},
                        {"ops", to_string(*ops_ep)},
                        {"decisions", decisions_ep ? to_string(*decisions_ep) : ""},
                        {"attach_cgroup", host->attach_dir.string()},
                        {"kubepods_level", host->level},
                        {"self_cgroup_id", settings->exempt_cgroup_ids.front()},
                        {"descriptor_limit", descriptors ? *descriptors : 0},
                        {"pins", pins.dir.string()},
                        {"links", links},
                        {"frame_hooks", frame_hook_states(frame_hooks)}});

  asio::steady_timer watchdog(io);
  schedule_watchdog(watchdog, *probe, metrics);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    serving = false;
    if (frame_hooks && frame_hooks->watcher) frame_hooks->watcher->stop();
    spawn_logged(io.get_executor(), shut_down(io, server, stack.get(), cgroups, watchdog, sig), "shutdown");
  });
  run_forever(io, metrics);
  deny_events.stop();
  return 0;
}

int uninstall_agent(const AgentConfig& config) {
  log::set_min_level(log::parse_level(config.log_level).value_or(log::Level::kInfo));
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
  auto problems = host_problems(host);
  if (problems.empty()) {
    std::cout << "podid-agent probe: this host can run podid (attach cgroup " << host->attach_dir.string()
              << ", level " << host->level << ")\n";
    return 0;
  }
  std::cout << "podid-agent probe: this host cannot run podid:\n" << problems;
  return 1;
}

}  // namespace podid::agent
