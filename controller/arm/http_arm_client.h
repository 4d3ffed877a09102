// SPDX-License-Identifier: Apache-2.0
//
// ArmClient over HTTP(S): GET and PATCH of a scale set or VM at
// {endpoint}{compute id}?api-version=<compute api-version>, the long-running PATCH followed to its end, and a
// final GET (reference/azure-wire-formats.md §5.2-§5.5).
//
// A PATCH answered 200/201 is complete when:
//   - with Azure-AsyncOperation: a poll of that URL says Succeeded, Failed or Canceled (any case). Failed and
//     Canceled put the operation's `error` (e.g. OperationPreempted) in outcome.error;
//   - without it: the answer's properties.provisioningState (absent = Succeeded) is terminal, or else a poll of
//     the resource itself says so (what go-autorest does).
// Polls wait for the poll answer's Retry-After (capped at max_poll_delay), else poll_interval. A poll answered
// 429 or 5xx is retried the same way; the whole operation is bounded by operation_timeout. The status URL must
// be on the resource manager's own scheme, host and port: the bearer token is never sent anywhere else.
//
// One structured log line and the metrics below per HTTP request. The bearer source is asked before every
// request (it caches); if it fails, nothing is sent.
//
// Errors: as ArmClient (arm_client.h): never thrown; every answer is an ArmOutcome. The constructor registers
// metrics and may throw std::invalid_argument if the registry already holds those names with another type
// (start-up only).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <string>

#include "controller/arm/arm_client.h"
#include "podid/clock.h"
#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::controller::arm {

// The ARM access token ("eyJ..."), without "Bearer ". Called once per request.
using BearerSource = std::function<boost::asio::awaitable<Result<std::string>>()>;

struct HttpArmClientOptions {
  http::Url endpoint;                             // resource manager, e.g. https://management.azure.com/
  std::string api_version = "2024-07-01";         // Microsoft.Compute
  std::chrono::milliseconds poll_interval{5000};  // between polls when the answer has no Retry-After
  std::chrono::milliseconds max_poll_delay{60000};  // a poll's Retry-After is honoured up to this long
  std::chrono::milliseconds operation_timeout{std::chrono::minutes(10)};  // PATCH until its end, polls included
  BearerSource bearer;
};

class HttpArmClient final : public ArmClient {
 public:
  // `client` (its timeout bounds every request), `registry` and `clock` must outlive this object. The clock
  // turns a Retry-After HTTP-date into a delay. Throws std::invalid_argument on an empty bearer source.
  HttpArmClient(http::Client& client, HttpArmClientOptions options, prometheus::Registry& registry,
                const WallClock& clock);
  HttpArmClient(http::Client& client, HttpArmClientOptions options, prometheus::Registry& registry);

  boost::asio::awaitable<ArmOutcome> get(const ResourceId& compute) override;
  boost::asio::awaitable<ArmOutcome> patch(const ResourceId& compute, const nlohmann::json& body) override;

 private:
  struct Exchange;
  struct Metrics {
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& duration;
    prometheus::Family<prometheus::Counter>& errors;
    prometheus::Family<prometheus::Counter>& throttled;
  };

  // One request: token, send, log, metrics. `outcome` receives status, request id (first request only), calls
  // and, on failure, detail / error / retry_after.
  boost::asio::awaitable<Exchange> exchange(const char* operation, const std::string& resource_id,
                                            const http::Url& url, http::Request request, ArmOutcome& outcome);
  // Poll the Azure-AsyncOperation URL, or the resource itself, until a terminal state or `deadline`; the first
  // poll after `first_delay`. Failures land in `outcome`; wait_for_resource also sets outcome.resource.
  boost::asio::awaitable<void> wait_for_operation(const ResourceId& compute, const std::string& async_url,
                                                  std::chrono::milliseconds first_delay,
                                                  std::chrono::steady_clock::time_point deadline,
                                                  ArmOutcome& outcome);
  boost::asio::awaitable<void> wait_for_resource(const ResourceId& compute, std::chrono::milliseconds first_delay,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 ArmOutcome& outcome);
  // The loop both share: GET `url` until the state `state_of` reads from the body is terminal (nullopt: the body
  // has none, a protocol surprise), honouring Retry-After on 429/5xx. Returns the body that said Succeeded.
  using StateReader = std::function<std::optional<std::string>(const nlohmann::json&)>;
  boost::asio::awaitable<std::optional<nlohmann::json>> poll(const ResourceId& compute, const char* operation,
                                                             const http::Url& url, const char* what,
                                                             const StateReader& state_of,
                                                             std::chrono::milliseconds delay,
                                                             std::chrono::steady_clock::time_point deadline,
                                                             ArmOutcome& outcome);
  // The delay a poll answer asks for (its Retry-After, capped), else poll_interval.
  std::chrono::milliseconds poll_delay(const http::Response& response) const;
  http::Url resource_url(const ResourceId& compute) const;
  void record(const char* operation, const std::string& code_label, std::chrono::duration<double> elapsed);

  http::Client& client_;
  HttpArmClientOptions options_;
  const WallClock& clock_;
  std::string prefix_;  // the endpoint's path without its trailing '/', put before every resource id
  Metrics metrics_;
};

}  // namespace podid::controller::arm
