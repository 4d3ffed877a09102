// SPDX-License-Identifier: Apache-2.0
//
// What the token sources read back from upstream: a token answer (IMDS, Entra ID v1 or v2) becomes an
// AccessToken; anything else becomes an UpstreamFailure carrying what the caller passes on.
//
// One parser serves both upstreams because their bodies overlap: IMDS sends every value as a string and
// gives expires_on (epoch seconds); Entra v2 sends numbers and only expires_in. Both forms are accepted for
// every numeric field, and expires_on wins over expires_in when both are present (it is the token's exp;
// expires_in counts from when Azure sent it, not when it arrived).
//
// Errors: parse_token_answer returns Result (EBADMSG with what was wrong, never the token); the failure
// builders return values, as the sources must never throw.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "podid/azure/access_token.h"
#include "podid/clock.h"
#include "podid/http/server.h"  // Response
#include "podid/result.h"

namespace podid::azure {

// The clock a source uses when none is given (tests give theirs).
const WallClock& system_wall_clock();

// What the parser needs besides the body.
struct TokenAnswerContext {
  std::string resource;   // as the caller asked for it; the answer's own echo is not trusted to match it
  std::string client_id;  // the identity asked for; used when the answer names none
  std::chrono::system_clock::time_point received_at;
};

// A 200 body: requires a non-empty access_token and expires_on or expires_in, and a token not already expired.
Result<AccessToken> parse_token_answer(std::string_view body, const TokenAnswerContext& context);

// A non-200 answer: status, body, content type and Retry-After passed on; detail is "<upstream> answered
// <status>" plus the error code and the first line of its description when the body is the usual JSON.
UpstreamFailure failure_from_response(const http::Response& response, std::chrono::system_clock::time_point now,
                                      std::string_view upstream);

// No answer at all (resolve, connect, TLS, timeout) or an answer that was not a token: status 0.
UpstreamFailure transport_failure(const Error& error, std::string_view upstream);
UpstreamFailure unusable_answer(const Error& error, std::string_view upstream);

}  // namespace podid::azure
