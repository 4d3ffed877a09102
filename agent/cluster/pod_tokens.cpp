// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/pod_tokens.h"

namespace podid::agent {
namespace {

azure::TokenCacheOptions service_account_token_cache() {
  return {.refresh_fraction = kServiceAccountTokenRenewAt,
          .refresh_in_background = true,
          // Entra checks the assertion when it is presented: a minute left is plenty for the exchange, and
          // serving from cache while the API server is away is worth more than renewing early.
          .min_remaining = std::chrono::seconds{60},
          .negative_ttl = std::chrono::seconds{0},
          .max_retry_after = std::chrono::seconds{60},
          .refresh_retry_delay = std::chrono::seconds{10},
          .max_entries = 8192};
}

}  // namespace

// One pod's TokenRequests. The cache keys it by the pod's uid: a re-created pod (new uid) never gets the old
// pod's token.
class PodServiceAccountTokens::PodSource final : public azure::TokenSource {
 public:
  PodSource(TokenRequestClient& client, const std::function<void(unsigned)>& on_request, std::string pod_uid)
      : client_(client), on_request_(on_request), key_("sa-token/" + std::move(pod_uid)) {}

  boost::asio::awaitable<azure::TokenOutcome> fetch(const std::string&, const azure::FetchContext& pod) override {
    azure::TokenOutcome outcome = co_await client_.request(pod);
    if (on_request_) {
      auto* f = std::get_if<azure::UpstreamFailure>(&outcome);
      on_request_(f ? f->status : 201);
    }
    co_return outcome;
  }
  std::string cache_key() const override { return key_; }
  std::string describe() const override { return "kubernetes " + key_; }

 private:
  TokenRequestClient& client_;
  const std::function<void(unsigned)>& on_request_;
  std::string key_;
};

PodServiceAccountTokens::PodServiceAccountTokens(boost::asio::any_io_executor executor, TokenRequestClient& client,
                                                 const WallClock& clock, std::function<void(unsigned)> on_request)
    : client_(client), on_request_(std::move(on_request)), cache_(std::move(executor), clock, service_account_token_cache()) {}

std::shared_ptr<azure::TokenSource> PodServiceAccountTokens::source_for(const std::string& pod_uid) {
  auto& slot = sources_[pod_uid];
  if (!slot) slot = std::make_shared<PodSource>(client_, on_request_, pod_uid);
  return slot;
}

boost::asio::awaitable<azure::TokenOutcome> PodServiceAccountTokens::assertion(const azure::FetchContext& pod,
                                                                               bool fresh) {
  std::shared_ptr<azure::TokenSource> source = source_for(pod.pod_uid);
  if (fresh) cache_.invalidate(source->cache_key());
  std::string audience = client_.settings().audience;
  azure::Served served = co_await cache_.get(source, audience, pod);
  co_return std::move(served.outcome);
}

void PodServiceAccountTokens::forget_pod(const std::string& pod_uid) {
  auto it = sources_.find(pod_uid);
  if (it == sources_.end()) return;
  cache_.invalidate(it->second->cache_key());
  sources_.erase(it);
}

}  // namespace podid::agent
