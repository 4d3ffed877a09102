// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_sources.h"

#include "podid/azure/entra_token_source.h"
#include "podid/azure/imds_token_source.h"
#include "podid/azure/sp_credential.h"
#include "podid/crd/workload_identity.h"
#include "podid/error.h"

namespace podid::agent {
namespace {

// Counts each upstream call of the source it wraps; otherwise transparent (same cache key).
class CountedSource final : public TokenSource {
 public:
  CountedSource(std::shared_ptr<TokenSource> inner, std::string upstream, TokenMetrics& metrics)
      : inner_(std::move(inner)), upstream_(std::move(upstream)), metrics_(metrics) {}

  boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext& context) override {
    TokenOutcome outcome = co_await inner_->fetch(resource, context);
    auto* failure = std::get_if<UpstreamFailure>(&outcome);
    metrics_.upstream_request(upstream_, failure ? failure->status : 200);
    co_return outcome;
  }
  std::string cache_key() const override { return inner_->cache_key(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<TokenSource> inner_;
  std::string upstream_;
  TokenMetrics& metrics_;
};

}  // namespace

TokenSources::TokenSources(http::Client& imds_client, http::Url imds_base, http::Client& entra_client,
                           const SecretStore& secrets, TokenCache& cache, TokenMetrics& metrics,
                           const WallClock& clock, FederatedSettings federated)
    : imds_client_(imds_client),
      imds_base_(std::move(imds_base)),
      entra_client_(entra_client),
      secrets_(secrets),
      cache_(cache),
      metrics_(metrics),
      clock_(clock),
      federated_settings_(std::move(federated)) {}

Result<std::shared_ptr<TokenSource>> TokenSources::for_identity(const AzureIdentity& identity) {
  using View = std::pair<std::string_view, std::string_view>;
  if (auto it = by_identity_.find(View(identity.ns, identity.name)); it != by_identity_.end()) return it->second;
  const std::string key = identity.ns + "/" + identity.name;

  std::shared_ptr<TokenSource> source;
  if (identity.type == IdentityType::kUserAssigned) {
    source = std::make_shared<CountedSource>(
        std::make_shared<ImdsTokenSource>(imds_client_, imds_base_, identity.client_id, clock_), "imds", metrics_);
  } else {
    // The getters read the watched Secret at every fetch: a rotated secret takes effect without a restart.
    SecretName secret{identity.client_password.ns, identity.client_password.name};
    const SecretStore& secrets = secrets_;
    auto data = [&secrets, secret]() -> Result<const SecretData*> {
      const SecretData* d = secrets.data(secret);
      if (!d) return os_error(ENOENT, "secret " + secret.first + "/" + secret.second + " not found");
      return d;
    };
    EntraSourceOptions options{.authority = identity.ad_endpoint,
                               .tenant_id = identity.tenant_id,
                               .client_id = identity.client_id};
    if (identity.type == IdentityType::kServicePrincipal) {
      auto made = EntraTokenSource::with_secret(
          entra_client_, options,
          [data]() -> Result<SecretCredential> {
            auto d = data();
            if (!d) return d.error();
            return secret_credential_from_data(**d);
          },
          clock_);
      if (!made) return made.error().wrap("AzureIdentity " + key);
      source = std::make_shared<CountedSource>(std::move(*made), "entra", metrics_);
    } else {
      auto made = EntraTokenSource::with_certificate(
          entra_client_, options,
          [data]() -> Result<CertificateCredential> {
            auto d = data();
            if (!d) return d.error();
            return certificate_credential_from_data(**d);
          },
          clock_);
      if (!made) return made.error().wrap("AzureIdentity " + key);
      source = std::make_shared<CountedSource>(std::move(*made), "entra", metrics_);
    }
  }
  by_identity_.emplace(std::pair(identity.ns, identity.name), source);
  return source;
}

std::shared_ptr<TokenSource> TokenSources::node_identity(const std::string& client_id) {
  auto& slot = node_[client_id];
  if (!slot) {
    slot = std::make_shared<CountedSource>(std::make_shared<ImdsTokenSource>(imds_client_, imds_base_, client_id, clock_),
                                           "imds", metrics_);
  }
  return slot;
}

Result<std::shared_ptr<TokenSource>> TokenSources::federated(const AzureIdentity& identity, const PodInfo& pod) {
  if (federated_settings_.assertions == nullptr) {
    return invalid_argument("federated identities are disabled on this agent (--federated false)");
  }
  const std::string subject = service_account_subject(pod.ns, pod.service_account);
  auto& by_subject = federated_[std::pair(identity.ns, identity.name)];
  if (auto it = by_subject.find(subject); it != by_subject.end()) return it->second;

  const bool from_account = is_service_account_identity(identity);
  FederatedSourceOptions options{
      .authority = identity.ad_endpoint.empty() ? federated_settings_.authority : identity.ad_endpoint,
      .tenant_id = identity.tenant_id.empty() ? federated_settings_.tenant_id : identity.tenant_id,
      .client_id = identity.client_id,
      .subject = subject,
      .identity_resource_id = identity.resource_id,
      .app_registration = identity.type == IdentityType::kServicePrincipal,
      .origin = from_account ? "the " + std::string(kWorkloadIdentityClientIdAnnotation) + " annotation of service account " +
                                   identity.ns + "/" + identity.name.substr(identity.name.find('/') + 1)
                             : "AzureIdentity " + identity.ns + "/" + identity.name};
  if (options.tenant_id.empty()) {
    return invalid_argument(
        options.origin + " names no tenant: set " +
        (from_account ? "the " + std::string(kWorkloadIdentityTenantIdAnnotation) + " annotation" : std::string("spec.tenantID")) +
        ", or the agent's --federated-tenant-id");
  }
  auto made = FederatedTokenSource::make(entra_client_, std::move(options), *federated_settings_.assertions, clock_);
  if (!made) return made.error().wrap("federated identity " + identity.ns + "/" + identity.name);
  std::shared_ptr<TokenSource> source = std::make_shared<CountedSource>(std::move(*made), "entra", metrics_);
  by_subject.emplace(subject, source);
  return source;
}

void TokenSources::forget(const AzureIdentity& before) {
  if (auto f = federated_.find(std::pair<std::string_view, std::string_view>(before.ns, before.name)); f != federated_.end()) {
    for (const auto& [subject, source] : f->second) cache_.invalidate(source->cache_key());
    federated_.erase(f);
  }
  auto it = by_identity_.find(std::pair<std::string_view, std::string_view>(before.ns, before.name));
  if (it == by_identity_.end()) return;
  cache_.invalidate(it->second->cache_key());
  by_identity_.erase(it);
}

}  // namespace podid::agent
