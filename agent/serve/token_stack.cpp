// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_stack.h"


#include "agent/cluster/cluster_watch.h"
#include "agent/cluster/pod_store.h"
#include "agent/cluster/pod_tokens.h"
#include "agent/cluster/secret_store.h"
#include "agent/cluster/service_account_store.h"
#include "agent/cluster/token_request_client.h"
#include "agent/serve/token_metrics.h"
#include "agent/serve/token_sources.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/cluster_config.h"
#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;

struct TokenStack::Impl {
  asio::io_context& io;
  AgentConfig config;
  SystemWallClock clock;
  std::unique_ptr<k8s::ApiClient> api;
  PodStore pods;
  IdentityStore identities;
  std::unique_ptr<SecretStore> secrets;
  std::unique_ptr<ServiceAccountStore> accounts;  // null unless --federated
  std::unique_ptr<ClusterWatch> watch;
  CgroupIndex& cgroups;
  std::unique_ptr<http::Client> imds_client;
  std::unique_ptr<http::Client> entra_client;
  std::unique_ptr<TokenCache> cache;
  std::unique_ptr<TokenRequestCredential> token_credential;  // federated: who asks for pods' tokens
  std::unique_ptr<TokenRequestClient> token_requests;
  std::unique_ptr<PodServiceAccountTokens> pod_tokens;
  std::unique_ptr<TokenSources> sources;
  std::unique_ptr<TokenMetrics> metrics;
  DecisionLog decisions;
  std::unique_ptr<ImdsService> service;

  Impl(asio::io_context& io, AgentConfig config, CgroupIndex& cgroups)
      : io(io), config(std::move(config)), cgroups(cgroups) {}
};

TokenStack::TokenStack(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenStack::~TokenStack() { stop(); }

Result<std::unique_ptr<TokenStack>> TokenStack::create(asio::io_context& io, const AgentConfig& config,
                                                     CgroupIndex& cgroups, ScrapedRegistry& registry) {
  auto impl = std::make_unique<Impl>(io, config, cgroups);
  auto cluster = config.kubeconfig.empty() ? k8s::in_cluster_config() : k8s::kubeconfig_config(config.kubeconfig);
  if (!cluster) return cluster.error().wrap("Kubernetes API configuration");
  auto imds_base = http::Url::parse(config.imds_upstream);
  if (!imds_base) return imds_base.error().wrap("--imds-upstream");

  Impl& m = *impl;
  m.api = std::make_unique<k8s::ApiClient>(io.get_executor(), std::move(*cluster), "podid-agent/" + config.node_name);
  m.secrets = std::make_unique<SecretStore>(io.get_executor(), *m.api);
  if (config.federated) m.accounts = std::make_unique<ServiceAccountStore>();
  m.watch = std::make_unique<ClusterWatch>(io.get_executor(), *m.api, m.config, m.pods, m.identities, *m.secrets,
                                           m.accounts.get());
  http::ClientOptions upstream{.timeout = config.upstream_timeout, .user_agent = "podid-agent"};
  m.imds_client = std::make_unique<http::Client>(io.get_executor(), upstream);
  m.entra_client = std::make_unique<http::Client>(io.get_executor(), upstream);
  m.cache = std::make_unique<TokenCache>(io.get_executor(), m.clock,
                                         TokenCacheOptions{.max_entries = config.token_cache_entries});
  m.metrics = std::make_unique<TokenMetrics>(registry);
  FederatedSettings federated;
  if (config.federated) {
    const std::string user_agent = "podid-agent/" + config.node_name;
    if (config.token_request_identity == TokenRequestIdentity::kKubelet) {
      m.token_credential = std::make_unique<KubeletCredential>(io.get_executor(), config.kubelet_kubeconfig, user_agent);
    } else {
      m.token_credential = std::make_unique<ClientCredential>(*m.api, "its own service account (--token-request-credential "
                                                                      "service-account)");
    }
    m.token_requests = std::make_unique<TokenRequestClient>(
        *m.token_credential, TokenRequestSettings{.audience = config.token_audience, .expiration = config.token_expiration},
        m.clock);
    TokenMetrics* metrics = m.metrics.get();
    m.pod_tokens = std::make_unique<PodServiceAccountTokens>(
        io.get_executor(), *m.token_requests, m.clock,
        [metrics](unsigned status) { metrics->upstream_request("kubernetes", status); });
    federated = {.assertions = m.pod_tokens.get(), .authority = config.federated_authority,
                 .tenant_id = config.federated_tenant_id};
  }
  m.sources = std::make_unique<TokenSources>(*m.imds_client, *imds_base, *m.entra_client, *m.secrets, *m.cache,
                                             *m.metrics, m.clock, std::move(federated));

  // Tokens of a changed identity, or of one a changed binding pointed at, are not served again.
  m.identities.on_identity_changed([&m](const AzureIdentity& before) { m.sources->forget(before); });
  m.identities.on_binding_changed([&m](const AzureIdentityBinding& before) {
    if (const AzureIdentity* identity = m.identities.identity(before.ns, before.azure_identity)) {
      m.sources->forget(*identity);
    }
  });
  m.pods.on_pod_removed([&m](const PodInfo& pod) {
    m.metrics->forget_pod(pod.uid);
    if (m.pod_tokens) m.pod_tokens->forget_pod(pod.uid);
  });
  // A service account re-annotated to another client id (or no longer annotated): its tokens are not served again.
  if (m.accounts) m.accounts->on_changed([&m](const AzureIdentity& before) { m.sources->forget(before); });

  ImdsServiceSettings settings{
      .selection = {.mode = config.mode == OperationMode::kManaged     ? Mode::kManaged
                            : config.mode == OperationMode::kFederated ? Mode::kFederated
                                                                       : Mode::kStandard,
                    .force_namespaced = config.force_namespaced,
                    .strict_default = config.strict_default_identity,
                    .federated = config.federated},
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
      ImdsServiceDeps{.cgroups = m.cgroups, .pods = m.pods, .identities = m.identities, .accounts = m.accounts.get(),
                      .sources = *m.sources,
                      .cache = *m.cache, .passthrough_client = *m.imds_client, .metrics = *m.metrics,
                      .clock = m.clock, .caches_synced = [&m] { return m.watch->synced(); },
                      .decisions = &m.decisions},
      std::move(settings));

  m.metrics->track([&m] {
    TokenStackSnapshot s;
    auto cs = m.cache->stats();
    s.cache_entries = cs.entries;
    s.fetches_in_flight = cs.in_flight;
    s.cache_events = {{"hit", cs.hits},           {"miss", cs.misses},
                      {"refresh", cs.refreshes},  {"refresh_failure", cs.refresh_failures},
                      {"coalesced", cs.coalesced}, {"eviction", cs.evictions},
                      {"throttled", cs.throttled}, {"stale_served", cs.stale_served}};
    s.watches = m.watch->stats();
    s.pods_known = m.pods.size();
    auto gs = m.cgroups.stats();
    s.pod_cgroups = gs.pods;
    s.container_cgroups = gs.containers;
    auto counts = m.identities.counts();
    s.identity_objects = {{"AzureIdentity", counts.identities},
                          {"AzureIdentityBinding", counts.bindings},
                          {"AzureAssignedIdentity", counts.assigned_identities},
                          {"AzurePodIdentityException", counts.exceptions}};
    if (m.accounts) s.identity_objects.emplace_back("ServiceAccount", m.accounts->size());
    s.identity_objects_rejected = counts.rejected;
    return s;
  });
  return std::unique_ptr<TokenStack>(new TokenStack(std::move(impl)));
}

Status TokenStack::start() {
  impl_->watch->start();
  if (impl_->token_credential) {
    // Not a reason to refuse to start (pods of other kinds need serving), but said at once rather than at the
    // first federated pod's request.
    auto client = impl_->token_credential->client();
    if (client) {
      log::info("federated identities: TokenRequests use " + impl_->token_credential->describe(),
                {{"audience", impl_->config.token_audience},
                 {"expiration_s", impl_->config.token_expiration.count()}});
    } else {
      log::warn("federated identities: TokenRequest credential unusable; federated pods get 403 until it is",
                {{"error", client.error().message()}});
    }
  }
  return {};
}

void TokenStack::stop() {
  if (!impl_) return;
  impl_->watch->stop();
}

ImdsService& TokenStack::service() { return *impl_->service; }

const DecisionLog& TokenStack::decisions() const { return impl_->decisions; }

std::string TokenStack::not_ready_reason() const {
  if (!impl_->watch->synced()) return "Kubernetes watches not synced yet";
  return {};
}

k8s::ApiClient& TokenStack::api() { return *impl_->api; }

}  // namespace podid::agent
