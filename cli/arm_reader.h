// SPDX-License-Identifier: Apache-2.0
//
// Doctor's reads of Azure Resource Manager: GETs only (an identity, a permissions list, a scale set or VM), each
// with the bearer token of the credential it is given (the controller's, from its azure.json), counted by
// operation so the report can say how many calls a run took. read_arm_facts runs a plan's calls with at most
// `concurrency` in flight: on a large cluster the bound (identities x 2 + computes) is a few hundred calls,
// seconds at ARM's latencies only when they overlap.
//
// Errors: never thrown. An answer that is not 2xx is an ArmAnswer with its status and ARM's error code; no
// answer is status 0 with `failure`. Each failed call logs one structured line (error level).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <string>
#include <string_view>

#include "cli/arm_checks.h"
#include "controller/arm/http_arm_client.h"  // BearerSource
#include "podid/http/client.h"

namespace podid::cli {

class ArmReader {
 public:
  // `client` must outlive the reader. `endpoint`: the cloud's resource manager (its path, if any, is kept).
  ArmReader(http::Client& client, const http::Url& endpoint, controller::arm::BearerSource bearer);

  // GET {endpoint}{path}?api-version=...; `operation` names the call in counts and logs ("GET identity").
  boost::asio::awaitable<ArmAnswer> get(std::string path, std::string_view api_version, const char* operation);

  const std::map<std::string, unsigned>& calls() const { return calls_; }  // by operation
  unsigned total_calls() const;

 private:
  http::Client& client_;
  http::Url endpoint_;
  std::string prefix_;
  controller::arm::BearerSource bearer_;
  std::map<std::string, unsigned> calls_;
};

inline constexpr const char* kGetIdentity = "GET identity";
inline constexpr const char* kGetPermissions = "GET permissions";
inline constexpr const char* kGetCompute = "GET compute";
inline constexpr const char* kListFederatedCredentials = "GET federated credentials";

// Every identity GET, permissions call and federated credentials list of `plan`, at most `concurrency` at a
// time (at least 1).
boost::asio::awaitable<ArmFacts> read_arm_facts(ArmReader& reader, const ArmPlan& plan, unsigned concurrency);

}  // namespace podid::cli
