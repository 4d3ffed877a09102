// SPDX-License-Identifier: Apache-2.0
//
// What the reconciler asks of Azure Resource Manager: read a scale set's or VM's identity block, and PATCH it
// to completion. An interface, so the reconciler is tested against a fake and the HTTP implementation
// (http_arm_client.h) against the harness's ARM emulator.
//
// Errors: never thrown. Every answer is an ArmOutcome; `ok()` is the only success. A transport failure (no
// answer, TLS, timeout, unreadable body) is status 0 with `detail`; an ARM error carries the parsed envelope.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "controller/arm/arm_errors.h"
#include "controller/arm/resource_id.h"

namespace podid::controller::arm {

struct ArmOutcome {
  // The last HTTP status seen: the GET's, or for a PATCH the final poll's (200 when the operation Succeeded).
  // 0: no answer.
  unsigned status = 0;
  // GET: the resource. Successful PATCH: the model ARM accepted with the PATCH (its identity block is the set now
  // in force), once the long-running operation has succeeded; the resource as last read when the PATCH answer
  // carried no model (then it is polled, or read once more).
  nlohmann::json resource;
  // Set whenever the call failed at ARM: the error envelope of a 4xx/5xx, or the `error` of an asynchronous
  // operation that ended Failed or Canceled (code e.g. "OperationPreempted").
  std::optional<ArmError> error;
  // From a 429 (or 503) answer: how long ARM asked us to leave this resource alone.
  std::optional<std::chrono::seconds> retry_after;
  std::string detail;      // transport failure or protocol surprise, for logs; "" otherwise
  std::string request_id;  // x-ms-request-id of the first request, for logs and events
  unsigned calls = 0;      // HTTP requests this outcome took (GET = 1; PATCH = 1 + polls [+ a GET])
  // What ARM said is left of this principal's hourly budget in the compute's subscription, from the last answer
  // carrying x-ms-ratelimit-remaining-subscription-reads / -writes; nullopt when none did.
  std::optional<long> remaining_reads, remaining_writes;
  // A 429 of the subscription's budget (the answer says 0 left of that kind): ARM refuses every call of this
  // principal in that subscription, not only this resource's. A 429 without it is the resource's own limit
  // (Compute's x-ms-ratelimit-remaining-resource policies).
  bool subscription_throttled = false;

  bool ok() const { return status >= 200 && status < 300 && !error && detail.empty(); }
  bool throttled() const { return status == 429; }
};

class ArmClient {
 public:
  virtual ~ArmClient() = default;
  // GET the scale set or VM (compute api-version). 404 is an outcome like any other (error->code
  // "ResourceNotFound" / "ResourceGroupNotFound").
  virtual boost::asio::awaitable<ArmOutcome> get(const ResourceId& compute) = 0;
  // PATCH `body` ({"identity":{...}}) and wait for the long-running operation to end (Azure-AsyncOperation
  // polled, honouring Retry-After on polls).
  virtual boost::asio::awaitable<ArmOutcome> patch(const ResourceId& compute, const nlohmann::json& body) = 0;
};

}  // namespace podid::controller::arm
