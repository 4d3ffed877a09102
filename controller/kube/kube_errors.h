// SPDX-License-Identifier: Apache-2.0
//
// The API server's refusals as a domain error, so callers of the writers in this directory can tell "someone
// else changed it first" (retry from the cache) from "not allowed" (an RBAC problem to report) without reading
// HTTP statuses. Transport failures keep the asio/beast error_code the ApiClient gave them.
//
// Errors: KubeError in its own error_category ("podid.kube"); an Error's context names the request and carries
// the API's Status message.
#pragma once

#include <string>
#include <system_error>

#include "podid/k8s/api_client.h"
#include "podid/result.h"

namespace podid::controller::kube {

enum class KubeError {
  kNotFound = 1,       // 404
  kAlreadyExists,      // 409, reason AlreadyExists (a create)
  kConflict,           // 409, reason Conflict: a stale resourceVersion (optimistic concurrency lost)
  kUnauthorized,       // 401
  kForbidden,          // 403: RBAC
  kInvalid,            // 422 (also a failed JSON-patch test op)
  kTooManyRequests,    // 429
  kServerError,        // 5xx
  kUnexpectedStatus,   // any other non-2xx
  kNameCollision,      // a ledger ConfigMap names another resource (SHA-256 prefix collision)
  kMalformedObject,    // a 2xx whose object lacks what we need
};

const std::error_category& kube_category();
std::error_code make_error_code(KubeError e);

// The KubeError for an HTTP status (and, for 409, the Status reason).
KubeError kube_error_for(const k8s::ApiResponse& response);

// An Error for a non-2xx answer: "<what>: HTTP <code>: <Status message>".
Error status_error(const k8s::ApiResponse& response, const std::string& what);

}  // namespace podid::controller::kube

template <>
struct std::is_error_code_enum<podid::controller::kube::KubeError> : std::true_type {};
