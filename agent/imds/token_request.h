// SPDX-License-Identifier: Apache-2.0
//
// A pod's IMDS token request (`GET /metadata/identity/oauth2/token?...`), checked and parsed the way IMDS and
// every SDK expect (reference azure-wire-formats.md §1.1, §3): either what the pod asked for, or the exact error
// answer IMDS would give. The caller has already classified the path as PathKind::kToken (imds_paths.h).
//
// The checks run in IMDS's order, so each malformed request gets IMDS's answer:
//   1. method GET, else 405;
//   2. no `X-Forwarded-For`, and exactly one `Metadata` header whose value is exactly `true`, else the 88-byte
//      400 — which is also what the SDK probes (no query and/or no header) must get, fast;
//   3. the query: at most kMaxQueryParameters, each name and value at most kMaxParameterBytes once decoded,
//      names unique (case-insensitively), recognised values free of control characters and valid UTF-8;
//   4. `api-version`: a valid `YYYY-MM-DD` date, 2018-02-01 or later (IMDS introduced the identity category in
//      2018-02-01; every SDK sends exactly that), else IMDS's api-version 400;
//   5. `resource`: present and non-empty after dropping a trailing `/.default`, else 400;
//   6. at most one identity named among client_id, object_id, msi_res_id and its older alias mi_res_id, else 400.
// Other parameters (bypass_cache, token_sha256_to_refresh, xms_cc, authority, ...) are ignored.
//
// Query decoding is application/x-www-form-urlencoded, as all SDK encoders write it (JS URLSearchParams, Python
// urlencode, Go url.Values): `+` is a space, `%XX` a byte. It is lenient where AppAuthentication is sloppy: an
// unencoded `resource=https://vault.azure.net` parses as written (`:` and `/` need no escape), and a `%` that
// starts no valid escape stays a literal `%`. Names match case-insensitively, as IMDS's .NET query collection
// does; a literal `+` must be sent as `%2B`, as every encoder does.
//
// Errors: ImdsError values (imds_errors.h); nothing throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include "agent/identity/identity_selector.h"
#include "agent/imds/imds_errors.h"
#include "podid/http/server.h"

namespace podid::agent::imds {

// A resource URI, an ARM resource id (at most ~400 characters) and a GUID all fit with room to spare.
inline constexpr size_t kMaxParameterBytes = 1024;
// SDKs send 2 to 4; claims refresh adds 2 more.
inline constexpr size_t kMaxQueryParameters = 32;

struct TokenRequest {
  std::string resource;     // decoded, trailing "/.default" dropped: the App ID URI to get a token for
  std::string api_version;  // as sent, e.g. "2018-02-01"
  IdentitySelector selector;
  bool operator==(const TokenRequest&) const = default;
};

std::variant<TokenRequest, ImdsError> parse_token_request(const http::Request& req);

// The header check of step 2 alone, shared with the passthrough (which IMDS guards the same way).
std::optional<ImdsError> check_metadata_headers(const http::Request& req);

}  // namespace podid::agent::imds
