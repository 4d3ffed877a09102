// SPDX-License-Identifier: Apache-2.0
//
// A token from IMDS or Entra ID, and an upstream failure, as both binaries use them: the agent caches the token
// and serves it to pods in IMDS's format; the controller puts it on its ARM calls.
//
// Errors: a token source never throws; what went wrong upstream is an UpstreamFailure value, carrying what
// the agent's IMDS-format answer to a pod needs (status, body, Retry-After) and what the controller logs.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace podid::azure {

struct AccessToken {
  std::string access_token;
  std::string token_type = "Bearer";
  std::string resource;   // as the caller asked for it (the agent echoes it to the pod)
  std::string client_id;  // of the identity that issued it (IMDS returns it; SDKs read it)
  std::chrono::system_clock::time_point issued_at;   // when this process received it
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
  // Set by a source that knows more than the status says (the federated source): a fixed token naming the
  // failure for metrics and audit ("no_federated_credential", "token_request_refused"...), and one sentence for
  // the caller saying what to do about it. Both empty otherwise; never a secret.
  std::string reason;
  std::string explanation;
};

using TokenOutcome = std::variant<AccessToken, UpstreamFailure>;

// Who a token is for, when the credential depends on the caller: the federated source exchanges a token of the
// calling pod's own service account, bound to that pod (name and uid). Other sources ignore it.
struct FetchContext {
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::string service_account;
};

}  // namespace podid::azure
