// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_path.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <unordered_map>

#include "agent/cluster/cluster_watch.h"
#include "agent/cluster/pod_store.h"
#include "agent/cluster/secret_store.h"
#include "agent/serve/token_metrics.h"
#include "agent/serve/token_sources.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/cluster_config.h"
#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;

struct TokenPath::Impl {
  asio::io_context& io;
  AgentConfig config;
  SystemWallClock clock;
  std::unique_ptr<k8s::ApiClient> api;
  PodStore pods;
  IdentityStore identities;
  std::unique_ptr<SecretStore> secrets;
  std::unique_ptr<ClusterWatch> watch;
  std::unique_ptr<PodCgroupIndex> cgroups;
  std::unique_ptr<http::Client> imds_client;
  std::unique_ptr<http::Client> entra_client;
  std::unique_ptr<TokenCache> cache;
  std::unique_ptr<TokenSources> sources;
  std::unique_ptr<TokenMetrics> metrics;
  std::unique_ptr<ImdsService> service;
  std::unordered_map<std::string, uint32_t> connections_per_pod;
  bool taint_removed = false;

  Impl(asio::io_context& io, AgentConfig config) : io(io), config(std::move(config)) {}
};

TokenPath::TokenPath(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenPath::~TokenPath() { stop(); }

Result<std::unique_ptr<TokenPath>> TokenPath::create(asio::io_context& io, const AgentConfig& config,
                                                     const std::filesystem::path& kubepods_dir,
                                                     metrics::Registry& registry) {
  auto impl = std::make_unique<Impl>(io, config);
  auto cluster = config.kubeconfig.empty() ? k8s::in_cluster_config() : k8s::kubeconfig_config(config.kubeconfig);
  if (!cluster) return cluster.error().wrap("Kubernetes API configuration");
  auto imds_base = http::Url::parse(config.imds_upstream);
  if (!imds_base) return imds_base.error().wrap("--imds-upstream");

  Impl& m = *impl;
  m.api = std::make_unique<k8s::ApiClient>(io.get_executor(), std::move(*cluster), "podid-agent/" + config.node_name);
  m.secrets = std::make_unique<SecretStore>(io.get_executor(), *m.api);
  m.watch = std::make_unique<ClusterWatch>(io.get_executor(), *m.api, m.config, m.pods, m.identities, *m.secrets);
  m.cgroups = std::make_unique<PodCgroupIndex>(io.get_executor(), kubepods_dir);
  http::ClientOptions upstream{.timeout = config.upstream_timeout, .user_agent = "podid-agent"};
  m.imds_client = std::make_unique<http::Client>(io.get_executor(), upstream);
  m.entra_client = std::make_unique<http::Client>(io.get_executor(), upstream);
  m.cache = std::make_unique<TokenCache>(io.get_executor(), m.clock,
                                         TokenCacheOptions{.max_entries = config.token_cache_entries});
  m.metrics = std::make_unique<TokenMetrics>(registry);
  m.sources = std::make_unique<TokenSources>(*m.imds_client, *imds_base, *m.entra_client, *m.secrets, *m.cache,
                                             *m.metrics, m.clock);

  // Tokens of a changed identity, or of one a changed binding pointed at, are not served again.
  m.identities.on_identity_changed([&m](const AzureIdentity& before) { m.sources->forget(before); });
  m.identities.on_binding_changed([&m](const AzureIdentityBinding& before) {
    if (const AzureIdentity* identity = m.identities.identity(before.ns, before.azure_identity)) {
      m.sources->forget(*identity);
    }
  });
  m.pods.on_pod_removed([&m](const PodInfo& pod) { m.metrics->forget_pod(pod.uid); });

  ImdsServiceSettings settings{
      .selection = {.mode = config.mode == OperationMode::kManaged ? Mode::kManaged : Mode::kStandard,
                    .force_namespaced = config.force_namespaced,
                    .strict_default = config.strict_default_identity},
      .verify_source_ip = config.verify_source_ip,
      .pending_answer = config.not_ready_answer == NotReadyAnswer::k503 ? imds::PendingAnswer::kUnavailable503
                                                                         : imds::PendingAnswer::kNotFound404,
      .pending_retry_after = config.not_ready_retry_after,
      .assignment_wait = config.assignment_wait,
      .imds_base = *imds_base,
  };
  settings.passthrough.enabled = config.passthrough;
  settings.passthrough.block_instance_metadata = config.block_instance_metadata;
  if (!config.passthrough_prefixes.empty()) settings.passthrough.allowed_prefixes = config.passthrough_prefixes;
  m.service = std::make_unique<ImdsService>(
      ImdsServiceDeps{.cgroups = *m.cgroups, .pods = m.pods, .identities = m.identities, .sources = *m.sources,
                      .cache = *m.cache, .passthrough_client = *m.imds_client, .metrics = *m.metrics,
                      .clock = m.clock},
      std::move(settings));

  m.metrics->track([&m] {
    TokenPathSnapshot s;
    auto cs = m.cache->stats();
    s.cache_entries = cs.entries;
    s.cache_events = {{"hit", cs.hits},           {"miss", cs.misses},
                      {"refresh", cs.refreshes},  {"refresh_failure", cs.refresh_failures},
                      {"coalesced", cs.coalesced}, {"eviction", cs.evictions},
                      {"throttled", cs.throttled}, {"stale_served", cs.stale_served}};
    s.watches = m.watch->stats();
    s.pods_known = m.pods.size();
    auto gs = m.cgroups->stats();
    s.pod_cgroups = gs.pods;
    s.container_cgroups = gs.containers;
    auto counts = m.identities.counts();
    s.identity_objects = {{"AzureIdentity", counts.identities},
                          {"AzureIdentityBinding", counts.bindings},
                          {"AzureAssignedIdentity", counts.assigned_identities},
                          {"AzurePodIdentityException", counts.exceptions}};
    s.identity_objects_rejected = counts.rejected;
    return s;
  });
  return std::unique_ptr<TokenPath>(new TokenPath(std::move(impl)));
}

Status TokenPath::start() {
  if (auto st = impl_->cgroups->start(); !st) return st.error().wrap("cgroup index");
  impl_->watch->start();
  return {};
}

void TokenPath::stop() {
  if (!impl_) return;
  impl_->watch->stop();
  impl_->cgroups->stop();
}

ImdsService& TokenPath::service() { return *impl_->service; }

std::string TokenPath::not_ready_reason() const {
  if (!impl_->watch->synced()) return "Kubernetes watches not synced yet";
  return {};
}

std::shared_ptr<void> TokenPath::acquire_connection_slot(const std::string& pod_uid) {
  auto& count = impl_->connections_per_pod[pod_uid];
  if (count >= impl_->config.max_connections_per_pod) {
    impl_->metrics->pod_resolution_failure("too_many_connections");
    return nullptr;
  }
  ++count;
  // Released when the last copy (held by the connection's handler) goes away.
  struct Slot {
    Slot(Impl* i, std::string uid) : impl(i), pod_uid(std::move(uid)) {}
    Slot(const Slot&) = delete;  // a copy's destructor would release the slot twice
    Impl* impl;
    std::string pod_uid;
    ~Slot() {
      auto it = impl->connections_per_pod.find(pod_uid);
      if (it != impl->connections_per_pod.end() && --it->second == 0) impl->connections_per_pod.erase(it);
    }
  };
  return std::make_shared<Slot>(impl_.get(), pod_uid);
}

void TokenPath::remove_startup_taint() {
  Impl& m = *impl_;
  if (m.config.startup_taint.empty() || m.taint_removed) return;
  m.taint_removed = true;
  asio::co_spawn(
      m.io,
      [&m]() -> asio::awaitable<void> {
        const std::string path = "/api/v1/nodes/" + m.config.node_name;
        auto node = co_await m.api->get(path);
        if (!node || !node->ok()) {
          log::error("startup taint not removed: cannot read the node",
                     {{"taint", m.config.startup_taint},
                      {"error", node ? node->message() : node.error().message()}});
          co_return;
        }
        nlohmann::json taints = nlohmann::json::array();
        bool found = false;
        for (const auto& t : node->body.value("/spec/taints"_json_pointer, nlohmann::json::array())) {
          if (t.value("key", "") == m.config.startup_taint) found = true;
          else taints.push_back(t);
        }
        if (!found) co_return;
        // Merge patch replaces the list; resourceVersion makes a concurrent change fail instead of being lost.
        nlohmann::json patch = {{"metadata", {{"resourceVersion", node->body["metadata"]["resourceVersion"]}}},
                                {"spec", {{"taints", taints}}}};
        const std::string content_type = "application/merge-patch+json";
        auto done = co_await m.api->request(boost::beast::http::verb::patch, path, patch, content_type);
        if (!done || !done->ok()) {
          log::error("startup taint not removed", {{"taint", m.config.startup_taint},
                                                   {"error", done ? done->message() : done.error().message()}});
          m.taint_removed = false;  // try again at the next readiness check
          co_return;
        }
        log::info("startup taint removed: pods may be scheduled here", {{"taint", m.config.startup_taint}});
      },
      asio::detached);
}

}  // namespace podid::agent
