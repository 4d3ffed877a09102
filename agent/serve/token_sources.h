// SPDX-License-Identifier: Apache-2.0
//
// One TokenSource per credential the agent serves: an AzureIdentity (type 0 through the node's IMDS by
// client id; types 1 and 2 through Entra ID with the Secret it references), a federated identity for one
// subject (the calling pod's service account: pods sharing it share the source, hence its tokens), or the node's
// own identity for exception pods. Sources are built on first use and kept, so the token cache sees the same cache key for
// the same credential; an identity that changes (or goes away) is forgotten, and the cache entries of its
// old credential are dropped with it.
//
// Errors: for_identity and federated return Result: an identity whose authority or tenant is refused by the
// Entra source (not https, malformed, none at all) is an error the caller answers and logs; it is not cached.
//
// Every source is wrapped so that each upstream call it makes (misses and background refreshes alike, once
// per call however many callers wait for it) is counted in podid_upstream_requests_total.
#pragma once

#include <map>
#include <string_view>
#include <tuple>
#include <utility>
#include <memory>
#include <string>

#include "agent/cluster/secret_store.h"
#include "podid/crd/crd_types.h"
#include "agent/serve/token_metrics.h"
#include "podid/azure/federated_token_source.h"
#include "podid/azure/token_cache.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own
using namespace podid::azure;  // the shared token types (podid_azure), read as the agent's own

// Where federated identities' tokens come from, and the defaults for identities that name no authority or tenant.
struct FederatedSettings {
  AssertionProvider* assertions = nullptr;  // the pods' service-account tokens; null: federated disabled
  std::string authority;                    // empty: public cloud
  std::string tenant_id;
};

class TokenSources {
 public:
  TokenSources(http::Client& imds_client, http::Url imds_base, http::Client& entra_client,
               const SecretStore& secrets, TokenCache& cache, TokenMetrics& metrics, const WallClock& clock,
               FederatedSettings federated = {});

  // A non-federated identity's source.
  Result<std::shared_ptr<TokenSource>> for_identity(const AzureIdentity& identity);
  // A federated identity's source for the subject of `pod`'s service account.
  Result<std::shared_ptr<TokenSource>> federated(const AzureIdentity& identity, const PodInfo& pod);
  // The node's identity through the upstream IMDS: system-assigned when client_id is empty.
  std::shared_ptr<TokenSource> node_identity(const std::string& client_id);

  // The identity changed or was deleted (an AzureIdentity, or what a service account's annotations named): drop
  // its sources and every cached token of them.
  void forget(const AzureIdentity& before);

 private:
  http::Client& imds_client_;
  http::Url imds_base_;
  http::Client& entra_client_;
  const SecretStore& secrets_;
  TokenCache& cache_;
  TokenMetrics& metrics_;
  const WallClock& clock_;
  // (namespace, name) -> source; found without building a key string (this runs on every request).
  struct NsNameLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::tie(a.first, a.second) < std::tie(b.first, b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, std::shared_ptr<TokenSource>, NsNameLess> by_identity_;
  std::map<std::string, std::shared_ptr<TokenSource>> node_;         // client id -> source
  FederatedSettings federated_settings_;
  // (namespace, name) of the identity -> subject -> source
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::shared_ptr<TokenSource>>, NsNameLess>
      federated_;
};

}  // namespace podid::agent
