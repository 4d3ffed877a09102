// SPDX-License-Identifier: Apache-2.0
//
// The 200 answer to a token request, in IMDS's exact format (reference azure-wire-formats.md §1.2, §7): one
// JSON object, every value a string, keys in IMDS's order:
//   access_token, refresh_token (""), expires_in, expires_on, ext_expires_in, not_before, resource, token_type,
//   client_id
// expires_in is the *remaining* lifetime at `now` (never negative), as IMDS gives it from its own cache;
// msal-node ignores it and computes expires_on - now, MSAL Go and Python read it; both agree this way.
// ext_expires_in likewise counts from `now`: the upstream's extended lifetime minus the time since the token
// was received, never below expires_in; the plain remaining lifetime when the upstream gave none.
// Never an array (NMI's multi-tenant answer broke @azure/identity), never an empty numeric string (MSAL Go).
//
// This is the hot path (thousands of answers a second): the body is written by hand into one allocation.
//
// Errors: none.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "podid/azure/access_token.h"
#include "podid/http/server.h"

namespace podid::agent::imds {

using namespace podid::azure;  // the shared token types (podid_azure), read as the agent's own

std::string token_response_body(const AccessToken& token, std::chrono::system_clock::time_point now);

// Whole seconds since the epoch, rounded down: the only way the body reads `now` (IMDS and Entra speak whole
// seconds), so two answers made within one such second are the same bytes (agent/serve/token_replay.h).
long long epoch_seconds(std::chrono::system_clock::time_point t);

// 200, `Content-Type: application/json; charset=utf-8`, Content-Length, `Server: podid`, the request's
// version and keep-alive.
http::Response token_response(const http::Request& req, const AccessToken& token,
                              std::chrono::system_clock::time_point now);

// Appends `s` as the inside of a JSON string: `"` `\` and control characters escaped, other bytes as they are
// (the caller's text is UTF-8: resources are checked on the way in, tokens are base64url).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace podid::agent::imds
