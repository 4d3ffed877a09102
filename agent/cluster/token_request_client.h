// SPDX-License-Identifier: Apache-2.0
//
// Service-account tokens for the calling pod, minted through the TokenRequest API (reference landscape-2026.md
// §1.4): POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token with the pod's own service account, the audience
// Entra ID expects (api://AzureADTokenExchange by default), a lifetime of at least 600 s, and a boundObjectRef
// naming the pod by name AND uid (a pod deleted and re-created under the same name gets 409/403, never a token).
//
// Who asks (docs/security.md, "Federated identities"):
//   KubeletCredential  the node's own kubeconfig (user system:node:<node>): the Node authorizer and NodeRestriction
//                      confine it to pods bound to this node. Read again whenever what it names changes (kubelet
//                      rotates its client certificate), so a rotation needs no agent restart.
//   ClientCredential   the agent's own client (fallback: its service account holds create serviceaccounts/token,
//                      which is not confined to one node).
//
// Errors: request() never throws; a failure is an UpstreamFailure with the API's status and a reason
// (azure::federated_reason): token_request_refused (401/403/400/422: the credential or its RBAC, with the API's
// message), pod_gone (404/409: the pod was deleted or re-created), token_request_unavailable (429/5xx/no answer,
// Retry-After 5 s), token_request_credential_unavailable (the kubeconfig cannot be read).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "podid/azure/access_token.h"
#include "podid/clock.h"
#include "podid/k8s/api_client.h"
#include "podid/result.h"

namespace podid::agent {

class TokenRequestCredential {
 public:
  virtual ~TokenRequestCredential() = default;
  // The client to ask with now (re-read from disk when it changed).
  virtual Result<std::shared_ptr<k8s::ApiClient>> client() = 0;
  // For messages: "the kubelet credential in /var/lib/kubelet/kubeconfig".
  virtual std::string describe() const = 0;
};

class KubeletCredential final : public TokenRequestCredential {
 public:
  KubeletCredential(boost::asio::any_io_executor executor, std::filesystem::path kubeconfig, std::string user_agent);
  Result<std::shared_ptr<k8s::ApiClient>> client() override;
  std::string describe() const override;

 private:
  boost::asio::any_io_executor executor_;
  std::filesystem::path kubeconfig_;
  std::string user_agent_;
  std::string loaded_;  // what the current client was made from (server, CA, certificate, key, token)
  std::shared_ptr<k8s::ApiClient> current_;
};

class ClientCredential final : public TokenRequestCredential {
 public:
  // `api` must outlive this object.
  ClientCredential(k8s::ApiClient& api, std::string what);
  Result<std::shared_ptr<k8s::ApiClient>> client() override;
  std::string describe() const override { return what_; }

 private:
  std::shared_ptr<k8s::ApiClient> api_;  // not owned
  std::string what_;
};

struct TokenRequestSettings {
  std::string audience = "api://AzureADTokenExchange";
  std::chrono::seconds expiration{3600};
};

class TokenRequestClient {
 public:
  // `credential` and `clock` must outlive the client.
  TokenRequestClient(TokenRequestCredential& credential, TokenRequestSettings settings, const WallClock& clock);

  // A token of `pod.service_account` bound to the pod (`pod_namespace`, `pod_name`, `pod_uid`). The AccessToken's
  // access_token is the JWT, expires_on the API's expirationTimestamp.
  boost::asio::awaitable<azure::TokenOutcome> request(const azure::FetchContext& pod);

  const TokenRequestSettings& settings() const { return settings_; }

 private:
  TokenRequestCredential& credential_;
  TokenRequestSettings settings_;
  const WallClock& clock_;
};

// The request body, for tests and the one place that sends it.
nlohmann::json token_request_body(const TokenRequestSettings& settings, const azure::FetchContext& pod);
// "2026-11-05T10:00:00Z" (RFC 3339 in UTC, as the API writes expirationTimestamp), or nullopt.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(std::string_view text);

}  // namespace podid::agent
