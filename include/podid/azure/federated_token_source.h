// SPDX-License-Identifier: Apache-2.0
//
// Tokens of a federated identity (reference landscape-2026.md §1.2): a Kubernetes service-account token of the
// calling pod is presented to Entra ID's v2 token endpoint as the client assertion,
//   POST {authority}/{tenant}/oauth2/v2.0/token
//   client_id=<id>&scope=<resource>/.default&grant_type=client_credentials
//   &client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=<SA JWT>
// and Entra answers for the identity if one of its federated identity credentials names that token's issuer,
// subject and audience. The scope is built as the azwi proxy builds it (`<resource>/.default`, a trailing slash
// kept), so tokens match what workloads got under Azure Workload Identity.
//
// One source per (identity, subject): the cache key names both, so pods sharing a service account share one
// access token per resource, and pods of different service accounts never share one. The assertion comes from an
// AssertionProvider for the pod the fetch is made for (FetchContext); an assertion Entra rejects as expired or
// badly signed is replaced by a fresh one and the exchange tried once more (a rotated signing key, a clock step).
//
// Errors: fetch never throws. A provider failure passes through as it is (its reason set by the provider); an
// Entra refusal is explained (federated_errors.h); no answer is status 0. The factory refuses a bad tenant or
// authority (EINVAL), as EntraTokenSource does.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "podid/azure/federated_errors.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::azure {

// Where the assertion comes from: in the agent, a pod-bound service-account token minted through TokenRequest
// and cached per pod. The AccessToken's access_token is the service-account JWT.
class AssertionProvider {
 public:
  virtual ~AssertionProvider() = default;
  // A service-account token of the pod in `context`; `fresh`: not a cached one (the last was rejected).
  virtual boost::asio::awaitable<TokenOutcome> assertion(const FetchContext& context, bool fresh) = 0;
  // The audience its tokens carry (for messages).
  virtual std::string audience() const = 0;
};

struct FederatedSourceOptions {
  std::string authority;  // empty: https://login.microsoftonline.com/
  std::string tenant_id;
  std::string client_id;
  std::string subject;    // system:serviceaccount:<ns>:<sa>, the subject of every assertion this source presents
  // For error messages only (FederatedFacts): the identity's ARM id, whether it is an app registration, and where
  // its client id came from.
  std::string identity_resource_id;
  bool app_registration = false;
  std::string origin;
};

class FederatedTokenSource final : public TokenSource {
 public:
  // `client`, `provider` and `clock` must outlive the source.
  static Result<std::shared_ptr<FederatedTokenSource>> make(http::Client& client, FederatedSourceOptions options,
                                                            AssertionProvider& provider, const WallClock& clock);

  boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext& context) override;
  // "federated/<authority host>/<tenant>/<client id, lower case>/<subject>".
  std::string cache_key() const override;
  std::string describe() const override;  // "entra federated tenant=<t> client_id=<c> subject=<s>"

  const std::string& token_endpoint() const { return endpoint_; }

 private:
  FederatedTokenSource(http::Client& client, FederatedSourceOptions options, http::Url url, std::string endpoint,
                       AssertionProvider& provider, const WallClock& clock);
  boost::asio::awaitable<TokenOutcome> exchange(const std::string& resource, const std::string& assertion);

  http::Client& client_;
  FederatedSourceOptions options_;
  http::Url url_;
  std::string endpoint_;
  AssertionProvider& provider_;
  const WallClock& clock_;
  std::string key_;
};

}  // namespace podid::azure
