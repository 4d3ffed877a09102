// SPDX-License-Identifier: Apache-2.0
//
// One TokenSource per credential the agent serves: an AzureIdentity (type 0 through the node's IMDS by
// client id; types 1 and 2 through Entra ID with the Secret it references) or the node's own identity for
// exception pods. Sources are built on first use and kept, so the token cache sees the same cache key for
// the same credential; an identity that changes (or goes away) is forgotten, and the cache entries of its
// old credential are dropped with it.
//
// Errors: for_identity returns Result: a service-principal identity whose authority or tenant is refused by
// the Entra source (not https, malformed) is an error the caller answers and logs; it is not cached.
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
#include "podid/azure/token_cache.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"

namespace podid::agent {

using namespace podid::crd;  // the shared aadpodidentity.k8s.io types, read as the agent's own
using namespace podid::azure;  // the shared token types (podid_azure), read as the agent's own

class TokenSources {
 public:
  TokenSources(http::Client& imds_client, http::Url imds_base, http::Client& entra_client,
               const SecretStore& secrets, TokenCache& cache, TokenMetrics& metrics, const WallClock& clock);

  Result<std::shared_ptr<TokenSource>> for_identity(const AzureIdentity& identity);
  // The node's identity through the upstream IMDS: system-assigned when client_id is empty.
  std::shared_ptr<TokenSource> node_identity(const std::string& client_id);

  // The identity changed or was deleted: drop its source and every cached token of it.
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
};

}  // namespace podid::agent
