// SPDX-License-Identifier: Apache-2.0
//
// The ARM access token podid-controller sends, from the credential the cloud config names (cloud_config.h): a
// managed identity through IMDS, or a service principal (secret or PKCS#12 certificate) through Entra ID, with
// the shared token sources (podid/azure/), for the environment's token audience.
//
// The token is a one-key user of the shared token cache (podid/azure/token_cache.h): kept until
// `refresh_margin` before it expires, or until half its life when that is later (a short-lived token is still
// used for half of it), then refreshed by the caller that finds it due. One upstream call however many callers
// ask meanwhile (single flight): they all wait for it and all get its result. If a refresh fails while the kept
// token is still valid for azure::kStaleGrace, callers get the kept token and the next attempt waits
// refresh_retry_delay.
//
// Threading: token() runs on one thread at a time (the controller's io_context thread, or a strand): no mutex.
//
// Errors: create() returns Result (EINVAL: an endpoint, tenant or authority the sources refuse). token()
// never throws: a failure is a Result error naming the upstream, its status and its answer's error
// (EACCES when the upstream answered, EIO when it did not).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "controller/cloud/cloud_config.h"
#include "podid/azure/token_source.h"
#include "podid/clock.h"
#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::controller::cloud {

struct ArmCredentialOptions {
  std::string imds_endpoint = "http://169.254.169.254";  // managed identity only
  std::chrono::seconds refresh_margin{300};               // refresh this long before expiry
  std::chrono::seconds refresh_retry_delay{30};           // after a failed refresh, while the kept token is good
};

class ArmCredential {
 public:
  // The source `auth` calls for, asking for `environment.token_audience`. `client` and `clock` must outlive the
  // credential and every bearer source taken from it.
  static Result<ArmCredential> create(http::Client& client, const ArmAuth& auth, const CloudEnvironment& environment,
                                      ArmCredentialOptions options, const WallClock& clock);
  static Result<ArmCredential> create(http::Client& client, const ArmAuth& auth, const CloudEnvironment& environment,
                                      ArmCredentialOptions options = {});
  // Any token source (tests, or a credential kind added later), asked for `resource`; fetches run on `executor`.
  ArmCredential(boost::asio::any_io_executor executor, std::shared_ptr<azure::TokenSource> source,
                std::string resource, ArmCredentialOptions options, const WallClock& clock);

  // The access token (without "Bearer "), from memory or one upstream call.
  boost::asio::awaitable<Result<std::string>> token();

  // token() as the BearerSource HttpArmClient takes (controller/arm/http_arm_client.h). It shares this
  // credential's cache and stays usable after the credential object is gone.
  std::function<boost::asio::awaitable<Result<std::string>>()> bearer_source() const;

  // "imds client_id=..." / "entra sp-secret tenant=... client_id=...": for logs, never a secret.
  std::string describe() const;
  // Upstream calls made so far.
  unsigned fetches() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace podid::controller::cloud
