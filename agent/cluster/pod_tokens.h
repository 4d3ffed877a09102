// SPDX-License-Identifier: Apache-2.0
//
// The assertions of the federated path: one pod-bound service-account token per pod, from TokenRequest, kept in
// a TokenCache (single flight: pods' concurrent first requests make one TokenRequest) and renewed in the
// background once 80% of its life has passed, as kubelet renews projected tokens. Dropped when the pod goes
// (forget_pod, from the pod watch). While the API server is unreachable a pod keeps using its cached token until
// a minute before it expires; a pod without one gets the TokenRequest failure.
//
// Threading: the agent's io thread, as the cache. Errors: never thrown; assertion() returns the TokenRequest's
// failure (token_request_client.h).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "agent/cluster/token_request_client.h"
#include "podid/azure/federated_token_source.h"
#include "podid/azure/token_cache.h"

namespace podid::agent {

// A service-account token is renewed once this fraction of its life has passed (kubelet's rule).
inline constexpr double kServiceAccountTokenRenewAt = 0.8;

class PodServiceAccountTokens final : public azure::AssertionProvider {
 public:
  // `on_request(status)` is called once per TokenRequest made (0: no answer), for metrics; may be empty.
  PodServiceAccountTokens(boost::asio::any_io_executor executor, TokenRequestClient& client, const WallClock& clock,
                          std::function<void(unsigned status)> on_request = {});

  boost::asio::awaitable<azure::TokenOutcome> assertion(const azure::FetchContext& pod, bool fresh) override;
  std::string audience() const override { return client_.settings().audience; }

  // The pod is gone: its token is dropped (and no longer renewed).
  void forget_pod(const std::string& pod_uid);

  azure::TokenCacheStats stats() const { return cache_.stats(); }

 private:
  class PodSource;
  std::shared_ptr<azure::TokenSource> source_for(const std::string& pod_uid);

  TokenRequestClient& client_;
  std::function<void(unsigned)> on_request_;
  azure::TokenCache cache_;
  std::unordered_map<std::string, std::shared_ptr<azure::TokenSource>> sources_;  // pod uid -> its source
};

}  // namespace podid::agent
