// SPDX-License-Identifier: Apache-2.0
//
// The answers of the token upstreams (the node's IMDS, Entra ID), read by the HTTP client and turned into what a
// pod receives: a 200 through parse_token_answer (common/azure) and the agent's IMDS-format body
// (agent/imds/token_response.h); any other status through failure_from_response and upstream_failure
// (agent/imds/imds_errors.h), for both kinds of upstream. Input: ReadPlan seed, then the response bytes.
//
// Properties:
//   - a token is accepted only with an access_token and an expiry after it arrived; the pod's body is one JSON
//     object of strings that gives back access_token, client_id and resource exactly, with expires_in a
//     non-negative integer and expires_on the token's expiry;
//   - a failure reaches the pod as a JSON object with the upstream's 4xx/5xx status (Entra's 4xx other than
//     429 as 400), 502 for any other status but 000, which is answered as no answer (503 and Retry-After), and
//     Retry-After is at most a day.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/imds/imds_errors.h"
#include "agent/imds/token_response.h"
#include "podid/azure/jwt_claims.h"
#include "fuzz_check.h"
#include "podid/azure/token_response.h"
#include "read_response.h"

namespace {

using namespace podid::agent::imds;
using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kReceivedAt = system_clock::time_point{seconds{1'735'689'600}};  // 2025-01-01

bool decimal(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

void check_token(const podid::azure::AccessToken& token, const podid::azure::TokenAnswerContext& context) {
  FUZZ_CHECK(!token.access_token.empty(), "a token answer without access_token was accepted");
  FUZZ_CHECK(token.expires_on > context.received_at, "a token already expired was accepted");
  podid::http::Request req{boost::beast::http::verb::get, "/metadata/identity/oauth2/token", 11};
  auto res = token_response(req, token, kReceivedAt);
  json body = json::parse(res.body(), nullptr, false);
  FUZZ_CHECK(body.is_object(), "the pod's token answer is not a JSON object");
  for (const auto& [key, value] : body.items()) {
    FUZZ_CHECK(value.is_string(), "a value of the pod's token answer is not a string");
  }
  FUZZ_CHECK(body.value("access_token", "") == token.access_token, "access_token did not survive the answer");
  FUZZ_CHECK(body.value("client_id", "") == token.client_id, "client_id did not survive the answer");
  FUZZ_CHECK(body.value("resource", "") == token.resource, "resource did not survive the answer");
  FUZZ_CHECK(decimal(body.value("expires_in", "")), "expires_in is not a non-negative integer");
  auto expires_on = std::chrono::floor<seconds>(token.expires_on.time_since_epoch()).count();
  FUZZ_CHECK(body.value("expires_on", "") == std::to_string(expires_on), "expires_on is not the token's expiry");
  (void)podid::azure::unverified_jwt_claim(token.access_token, "oid");
}

void check_failure(const podid::http::Response& upstream) {
  auto failure = podid::azure::failure_from_response(upstream, kReceivedAt, "IMDS");
  if (failure.retry_after) {
    FUZZ_CHECK(*failure.retry_after >= seconds{0} && *failure.retry_after <= seconds{86400},
               "a Retry-After outside 0..1 day");
  }
  unsigned status = upstream.result_int();
  for (UpstreamKind kind : {UpstreamKind::kImds, UpstreamKind::kEntra}) {
    ImdsError error = upstream_failure(failure, kind);
    podid::http::Request req{boost::beast::http::verb::get, "/metadata/identity/oauth2/token", 11};
    auto res = to_response(req, error);
    unsigned to_pod = res.result_int();
    if (status == 0) {
      // "HTTP/1.1 000": no status at all, answered like no answer (503, retry).
      FUZZ_CHECK(to_pod == 503 && error.retry_after, "status 000 was not answered as an unreachable upstream");
    } else if (status < 400 || status > 599) {
      FUZZ_CHECK(to_pod == 502, "an upstream status outside 4xx/5xx did not become 502");
    } else if (kind == UpstreamKind::kImds || status == 429 || status >= 500) {
      FUZZ_CHECK(to_pod == status, "the upstream's status was not passed on");
    } else {
      FUZZ_CHECK(to_pod == 400, "an Entra 4xx did not become 400");
    }
    FUZZ_CHECK(json::parse(res.body(), nullptr, false).is_object(), "the pod's error body is not a JSON object");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto upstream = podid::fuzz::upstream_answer(data, size);
  if (!upstream) return 0;
  if (upstream->result_int() != 200) {
    check_failure(*upstream);
    return 0;
  }
  podid::azure::TokenAnswerContext context{"https://vault.azure.net", "0c9c2a3b-5b6d-4f6e-8a1b-2c3d4e5f6a7b",
                                           kReceivedAt};
  auto token = podid::azure::parse_token_answer(upstream->body(), context);
  if (token) check_token(*token, context);
  return 0;
}
