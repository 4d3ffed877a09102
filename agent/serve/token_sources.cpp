// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/token_sources.h"

#include "agent/token/entra_token_source.h"
#include "agent/token/imds_token_source.h"
#include "agent/token/sp_credential.h"

namespace podid::agent {

TokenSources::TokenSources(http::Client& imds_client, http::Url imds_base, http::Client& entra_client,
                           const SecretStore& secrets, TokenCache& cache, const WallClock& clock)
    : imds_client_(imds_client),
      imds_base_(std::move(imds_base)),
      entra_client_(entra_client),
      secrets_(secrets),
      cache_(cache),
      clock_(clock) {}

Result<std::shared_ptr<TokenSource>> TokenSources::for_identity(const AzureIdentity& identity) {
  std::string key = identity.ns + "/" + identity.name;
  if (auto it = by_identity_.find(key); it != by_identity_.end()) return it->second;

  std::shared_ptr<TokenSource> source;
  if (identity.type == IdentityType::kUserAssigned) {
    source = std::make_shared<ImdsTokenSource>(imds_client_, imds_base_, identity.client_id, clock_);
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
      source = std::move(*made);
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
      source = std::move(*made);
    }
  }
  by_identity_.emplace(std::move(key), source);
  return source;
}

std::shared_ptr<TokenSource> TokenSources::node_identity(const std::string& client_id) {
  auto& slot = node_[client_id];
  if (!slot) slot = std::make_shared<ImdsTokenSource>(imds_client_, imds_base_, client_id, clock_);
  return slot;
}

void TokenSources::forget(const AzureIdentity& before) {
  auto it = by_identity_.find(before.ns + "/" + before.name);
  if (it == by_identity_.end()) return;
  cache_.invalidate(it->second->cache_key());
  by_identity_.erase(it);
}

}  // namespace podid::agent
