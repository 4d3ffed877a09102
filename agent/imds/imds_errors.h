// SPDX-License-Identifier: Apache-2.0
//
// Every error answer the agent gives a pod on the IMDS address, as values, in IMDS's own format.
//
// Token-endpoint errors use IMDS's identity error shape `{"error":"<code>","error_description":"<text>"}`
// (swagger IdentityErrorResponse), byte for byte where Azure's body is known (reference
// azure-wire-formats.md §1.3: the 88-byte missing-header body, the 68-byte "Identity not found", the multiple
// identities body); where it is not, the bodies match the test harness's IMDS emulator
// (tests/harness/podid_harness/azure/imds.py), so tests against the emulator and against the agent agree.
// Errors for other endpoints (the passthrough) use IMDS's non-identity shape `{"error":"<text>"}`.
//
// Every ImdsError carries a short, fixed `reason` (metrics label, audit field): a small closed set, never
// built from request text. Why and for whom something failed goes in the log line, not the reason.
//
// Errors: none thrown; this module only builds values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "podid/azure/access_token.h"
#include "podid/http/server.h"

namespace podid::agent::imds {

using namespace podid::azure;  // the shared token types (podid_azure), read as the agent's own

inline constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";

struct ImdsError {
  http::Status status = http::Status::bad_request;
  std::string body;
  std::string content_type{kJsonContentType};
  std::optional<std::chrono::seconds> retry_after;
  std::string reason;             // e.g. "missing_metadata_header"; see the constructors below
  bool close_connection = false;  // the connection itself is refused (caller not attributed): do not keep it
};

// ---- request shape (token endpoint and passthrough) ---------------------------------------------------------

// 400, the 88-byte body. Also the answer to the SDK probe (no query, no header), as real IMDS gives it.
ImdsError missing_metadata_header();
// 400 with the same body: IMDS documents the rejection but not its body (reference [A]).
ImdsError x_forwarded_for_present();
// 405 `method_not_allowed`; to_response adds `Allow: GET` (only the token endpoint answers 405 itself).
ImdsError method_not_allowed();
// 400 `Required query variable 'resource' is missing` (reference [A]; NMI said text/plain).
ImdsError resource_missing();
// 400, IMDS's general api-version body with the three newest versions.
ImdsError api_version_invalid();
// 400 `Duplicate query parameter`: IMDS documents rejecting duplicate names.
ImdsError duplicate_parameter();
// 400: more than one of client_id / object_id / msi_res_id (mi_res_id) named different identities.
ImdsError conflicting_selectors();
// 400: a query parameter (name or value) longer than the agent accepts, or too many parameters.
ImdsError parameter_too_long();
ImdsError too_many_parameters();
// 400: a recognised parameter's value holds control characters or is not UTF-8 once decoded.
ImdsError invalid_parameter_encoding();
// 400 `Invalid request`, in IMDS's JSON shape (NMI said it in text/plain): a path that resembles the token
// endpoint but is not exactly it. SDKs parse the JSON shape into a readable error; nothing parses the text.
ImdsError malformed_token_path();

// ---- identity choice ----------------------------------------------------------------------------------------

// 400, the 68-byte body: no identity for this pod, or none matching the selector (IMDS says the same for a
// UAMI not on the VM).
ImdsError identity_not_found();
// 400: several identities bound and no selector (IMDS's body for several UAMIs on a VM).
ImdsError multiple_identities();
// 400 `invalid_request`, reason service_account_not_annotated: the pod is labelled azure.workload.identity/use but
// its service account names no client id. `detail` says which pod and which account.
ImdsError service_account_not_annotated(std::string_view detail);
// 400 `invalid_request`, reason federated_identity_invalid: a federated identity that cannot be used as it is
// configured (no tenant anywhere, a refused authority); `detail` says what to set.
ImdsError federated_identity_invalid(std::string_view detail);

// How to say "your identity exists but is not assigned to this node yet". Both are retried by every SDK
// (reference §3.8); 503 needs Retry-After for @azure/identity's throttling policy to retry it.
enum class PendingAnswer {
  kNotFound404,     // IMDS's transient 404 ("endpoint is updating"): SDKs back off exponentially
  kUnavailable503,  // 503 + Retry-After: SDKs come back after exactly that long
};
ImdsError identity_not_assigned(PendingAnswer answer, std::chrono::seconds retry_after);

// ---- upstream (IMDS or Entra ID) ---------------------------------------------------------------------------

enum class UpstreamKind {
  kImds,       // the node's IMDS (user-assigned identities): its answers are already in IMDS's format
  kEntra,      // Entra ID's token endpoint (service principals): OAuth2 errors, reshaped into IMDS's format
  kFederated,  // the federated path: TokenRequest, then Entra ID; failures carry a reason and an explanation
};

// What the pod gets when the token source failed:
// - no answer (status 0: connect, timeout, TLS, unparsable) -> 503 `service_unavailable` + Retry-After
//   (the failure's own, else `unreachable_retry_after`);
// - IMDS 4xx/5xx -> the same status, Retry-After and body when the body is JSON; a non-JSON body is replaced
//   by an IMDS-shaped one for that status (SDKs parse error/error_description);
// - Entra 429 and 5xx -> the same status and Retry-After; any other Entra 4xx (invalid_client from a bad
//   secret, invalid_resource, ...) -> 400, which is what IMDS answers when Entra refuses it (AADSTS500011) and
//   what SDKs treat as "not retryable, credential unavailable". NMI answered 403, a status IMDS does not document
//   for tokens (nor 401). The body keeps only Entra's `error` and `error_description`;
// - any other status (1xx-3xx) -> 502 `server_error`;
// - federated (failure.reason from the TokenRequest client or azure/federated_errors.h): a refused TokenRequest or
//   an unreadable credential -> 403 `forbidden`; the pod gone -> 404 `not_found`; the API server unavailable ->
//   503 + Retry-After; an Entra refusal -> 400 with Entra's code; throttling and 5xx as Entra's. The description
//   is the failure's explanation (what to do: the missing federated credential's `az` command...), and the
//   reason (metric label, audit) the failure's reason.
ImdsError upstream_failure(const UpstreamFailure& failure, UpstreamKind kind,
                           std::chrono::seconds unreachable_retry_after = std::chrono::seconds{5});

// ---- agent policy -------------------------------------------------------------------------------------------

// 403 `forbidden`: the agent could not tell which pod made the connection (reason: the attribution refusal,
// e.g. "no_record"); the connection is closed after the answer. The body never says "unreachable": SDKs read
// a 403 containing that word as "no IMDS here" and would silently fall through their credential chains.
ImdsError caller_refused(std::string_view reason);
// 403 `{"error":"Request blocked by podid (<reason>)"}`: the passthrough policy refuses this request
// (NMI said `Request blocked by AAD Pod Identity NMI`). `reason` is a fixed token such as "path_not_allowed".
ImdsError passthrough_blocked(std::string_view reason);
// 404 `{"error":"Not found"}`: a path under /metadata/identity podid does not serve (imds_paths.h), answered as
// a host without that endpoint answers, so clients probing for MSI v2 fall back to the token endpoint.
ImdsError identity_path_not_served(bool msi_v2);
// 429 `too_many_requests` + Retry-After: the agent sheds load (a caller over its limit).
ImdsError too_many_requests(std::chrono::seconds retry_after);
// 500 `server_error`: a bug or an unexpected state; `reason` names it for the metric.
ImdsError internal_error(std::string_view reason);

// The HTTP answer: the request's version and keep-alive (unless close_connection), Content-Type,
// Content-Length, Retry-After when set, `Allow: GET` on 405, and `Server: podid` — not IMDS's
// `Server: IMDS/...`: no SDK reads it, and whoever debugs with curl should see who answered.
http::Response to_response(const http::Request& req, const ImdsError& error);

}  // namespace podid::agent::imds
