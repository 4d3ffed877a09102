// SPDX-License-Identifier: Apache-2.0
//
// A token as the agent keeps and serves it, and an upstream failure as the agent passes it on.
//
// Errors: a token source never throws; what went wrong upstream is an UpstreamFailure value, carrying what
// the IMDS-format answer to the pod needs (status, body, Retry-After).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace podid::agent {

struct AccessToken {
  std::string access_token;
  std::string token_type = "Bearer";
  std::string resource;   // as the pod asked for it (echoed in the answer)
  std::string client_id;  // of the identity that issued it (IMDS returns it; SDKs read it)
  std::chrono::system_clock::time_point issued_at;   // when the agent received it
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point expires_on;
  std::chrono::seconds ext_expires_in{0};  // as the upstream said; 0 when it did not say
};

struct UpstreamFailure {
  unsigned status = 0;  // HTTP status from upstream; 0 = no answer (connect, timeout, TLS, parse)
  std::string body;     // the upstream body, when it is safe to pass on
  std::string content_type;
  std::optional<std::chrono::seconds> retry_after;
  std::string detail;   // for logs and audit: what failed, never a secret
};

using TokenOutcome = std::variant<AccessToken, UpstreamFailure>;

// Who a token is for, when the credential depends on the caller (the federated source, later: the pod's
// service account). The sources of this issue ignore it.
struct FetchContext {
  std::string pod_namespace;
  std::string pod_name;
  std::string service_account;
};

}  // namespace podid::agent
