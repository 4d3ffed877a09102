// SPDX-License-Identifier: Apache-2.0
//
// Tokens of a managed identity through the node's own IMDS (reference/azure-wire-formats.md §1): a
// user-assigned identity by client id, or the node's system-assigned identity (empty client id), which is
// what exception pods get.
//
// Errors: never thrown. A non-200 answer is an UpstreamFailure with IMDS's status, body, content type and
// Retry-After; no answer, or a 200 without a usable token, is status 0 with the reason in `detail`.
#pragma once

#include <string>

#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"

namespace podid::azure {

class ImdsTokenSource final : public TokenSource {
 public:
  // `imds_base` is the upstream IMDS (http://169.254.169.254 in production, an emulator in tests); a path in it
  // is kept as a prefix. `client` and `clock` must outlive the source.
  ImdsTokenSource(http::Client& client, http::Url imds_base, std::string client_id);
  ImdsTokenSource(http::Client& client, http::Url imds_base, std::string client_id, const WallClock& clock);

  boost::asio::awaitable<TokenOutcome> fetch(const std::string& resource, const FetchContext& context) override;
  // "imds/<client id, lower case>" or "imds/system-assigned". Client ids are GUIDs, case-insensitive in Azure,
  // so two spellings of one identity share cache entries.
  std::string cache_key() const override;
  std::string describe() const override;  // "imds client_id=<id>" or "imds system-assigned"

 private:
  http::Client& client_;
  http::Url base_;
  std::string client_id_;
  const WallClock& clock_;
  std::string key_;
};

}  // namespace podid::azure
