// SPDX-License-Identifier: Apache-2.0
//
// Where tokens come from: one TokenSource per credential (a user-assigned identity through the upstream
// IMDS, a service principal with a secret or a certificate through Entra ID; a federated source later).
// Shared by the agent (its token cache sits in front of every source) and the controller (ARM tokens). A source
// makes exactly one upstream call per fetch (no retries: the caller decides about retrying).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "podid/azure/access_token.h"

namespace podid::azure {

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

}  // namespace podid::azure
