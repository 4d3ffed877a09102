// SPDX-License-Identifier: Apache-2.0
//
// Where tokens come from: one TokenSource per credential (a user-assigned identity through the upstream
// IMDS, a service principal with a secret or a certificate through Entra ID; a federated source later).
// The cache sits in front of every source; a source makes exactly one upstream call per fetch (no retries:
// the cache and the caller's SDK decide about retrying).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "agent/token/access_token.h"

namespace podid::agent {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // One upstream call for a token for `resource` (an App ID URI such as "https://vault.azure.net").
  virtual boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext& context) = 0;
  // Identifies the credential: two sources with the same key return interchangeable tokens. Part of the
  // cache key; e.g. "imds/<client_id>", "sp-secret/<tenant>/<client_id>/<secret generation>".
  virtual std::string cache_key() const = 0;
  // For logs and audit: "imds client_id=...", never a secret.
  virtual std::string describe() const = 0;
};

}  // namespace podid::agent
