// SPDX-License-Identifier: Apache-2.0
#include "agent/imds/imds_errors.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "podid/azure/federated_errors.h"

namespace podid::agent::imds {
namespace {

using std::chrono::seconds;

ImdsError make(http::Status status, std::string body, std::string reason) {
  ImdsError e;
  e.status = status;
  e.body = std::move(body);
  e.reason = std::move(reason);
  return e;
}

// Invalid UTF-8 (from an upstream body) becomes U+FFFD rather than an exception on the error path.
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// IMDS's identity error shape. nlohmann's object keeps keys sorted, and "error" < "error_description" is also
// IMDS's order.
std::string identity_body(std::string_view code, std::string_view description) {
  return dump({{"error", code}, {"error_description", description}});
}

// The swagger's identity error code for a status, for bodies the agent has to write itself.
std::string_view code_for_status(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request";
    case 401:
      return "unauthorized_client";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 410:
      return "not_found";  // as the emulator says it: IMDS is starting
    case 429:
      return "too_many_requests";
    case 503:
      return "service_unavailable";
    default:
      return status < 500 ? "invalid_request" : "server_error";
  }
}

// A small fixed set, for the metric label: the status itself is in the log line and the audit record.
std::string upstream_reason(unsigned status) {
  if (status == 429) return "upstream_throttled";
  return status < 500 ? "upstream_rejected" : "upstream_failed";
}

bool is_json_content(std::string_view content_type) { return content_type.find("json") != std::string_view::npos; }

ImdsError from_imds(const UpstreamFailure& f) {
  auto parsed = nlohmann::json::parse(f.body, nullptr, /*allow_exceptions=*/false);
  ImdsError e;
  e.status = static_cast<http::Status>(f.status);
  e.retry_after = f.retry_after;
  e.reason = upstream_reason(f.status);
  if (parsed.is_object()) {
    // Already IMDS's answer, in IMDS's format: the pod gets it byte for byte.
    e.body = f.body;
    if (is_json_content(f.content_type)) e.content_type = f.content_type;
  } else {
    e.body = identity_body(code_for_status(f.status), "The upstream IMDS answered HTTP " + std::to_string(f.status));
  }
  return e;
}

ImdsError from_entra(const UpstreamFailure& f) {
  unsigned status = f.status == 429 || f.status >= 500 ? f.status : 400;
  auto parsed = nlohmann::json::parse(f.body, nullptr, /*allow_exceptions=*/false);
  std::string code(code_for_status(status));
  std::string description = "Entra ID answered HTTP " + std::to_string(f.status);
  if (parsed.is_object()) {
    if (auto it = parsed.find("error"); it != parsed.end() && it->is_string()) code = it->get<std::string>();
    if (auto it = parsed.find("error_description"); it != parsed.end() && it->is_string()) {
      description = it->get<std::string>();
    }
  }
  ImdsError e = make(static_cast<http::Status>(status), identity_body(code, description), upstream_reason(status));
  if (status == 429 || status >= 500) e.retry_after = f.retry_after;
  return e;
}

ImdsError from_federated(const UpstreamFailure& f, seconds unreachable_retry_after) {
  const std::string_view r = f.reason;
  const std::string description = f.explanation.empty() ? f.detail : f.explanation;
  if (r == federated_reason::kTokenRequestRefused || r == federated_reason::kTokenRequestCredential) {
    return make(http::Status::forbidden, identity_body("forbidden", description), f.reason);
  }
  if (r == federated_reason::kPodGone) {
    return make(http::Status::not_found, identity_body("not_found", description), f.reason);
  }
  if (r == federated_reason::kTokenRequestUnavailable) {
    ImdsError e = make(http::Status::service_unavailable, identity_body("service_unavailable", description), f.reason);
    e.retry_after = f.retry_after.value_or(unreachable_retry_after);
    return e;
  }
  if (f.explanation.empty()) return {};  // no federated reading: the caller maps it as Entra's
  // An exchange Entra refused: 400, as every other non-retryable Entra refusal, with Entra's code kept.
  std::string code = "invalid_request";
  auto parsed = nlohmann::json::parse(f.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    if (auto it = parsed.find("error"); it != parsed.end() && it->is_string()) code = it->get<std::string>();
  }
  return make(http::Status::bad_request, identity_body(code, description), f.reason);
}

}  // namespace

ImdsError missing_metadata_header() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Required metadata header not specified"})",
              "missing_metadata_header");
}

ImdsError x_forwarded_for_present() {
  ImdsError e = missing_metadata_header();
  e.reason = "x_forwarded_for";
  return e;
}

ImdsError method_not_allowed() {
  return make(http::Status::method_not_allowed,
              R"({"error":"method_not_allowed","error_description":"The request method is not allowed"})",
              "method_not_allowed");
}

ImdsError resource_missing() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Required query variable 'resource' is missing"})",
              "resource_missing");
}

ImdsError api_version_invalid() {
  return make(http::Status::bad_request,
              R"({"error":"Bad request. api-version is invalid or was not specified in the request. For more )"
              R"(information refer to aka.ms/azureimds","newest-versions":["2025-04-07","2024-07-17","2024-03-15"]})",
              "api_version_invalid");
}

ImdsError duplicate_parameter() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Duplicate query parameter"})", "duplicate_parameter");
}

ImdsError conflicting_selectors() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":)"
              R"("Only one of client_id, object_id, msi_res_id may be specified"})",
              "conflicting_selectors");
}

ImdsError parameter_too_long() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Query parameter too long"})", "parameter_too_long");
}

ImdsError too_many_parameters() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Too many query parameters"})", "too_many_parameters");
}

ImdsError invalid_parameter_encoding() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Invalid characters in a query parameter"})",
              "invalid_parameter_encoding");
}

ImdsError malformed_token_path() {
  return make(http::Status::bad_request, R"({"error":"invalid_request","error_description":"Invalid request"})",
              "malformed_token_path");
}

ImdsError identity_path_not_served(bool msi_v2) {
  return make(http::Status::not_found, R"({"error":"Not found"})", msi_v2 ? "msi_v2_not_served" : "identity_path_not_served");
}

ImdsError identity_not_found() {
  return make(http::Status::bad_request, R"({"error":"invalid_request","error_description":"Identity not found"})",
              "identity_not_found");
}

ImdsError multiple_identities() {
  return make(http::Status::bad_request,
              R"({"error":"invalid_request","error_description":"Multiple user assigned identities exist, please )"
              R"(specify the clientId / resourceId of the identity in the token request"})",
              "multiple_identities");
}

ImdsError identity_not_assigned(PendingAnswer answer, seconds retry_after) {
  if (answer == PendingAnswer::kNotFound404) {
    return make(http::Status::not_found,
                R"({"error":"not_found","error_description":)"
                R"("The identity of this pod is not assigned to this node yet; retry later"})",
                "identity_not_assigned");
  }
  ImdsError e = make(http::Status::service_unavailable,
                     R"({"error":"service_unavailable","error_description":)"
                     R"("The identity of this pod is not assigned to this node yet; retry later"})",
                     "identity_not_assigned");
  e.retry_after = retry_after;
  return e;
}

ImdsError upstream_failure(const UpstreamFailure& failure, UpstreamKind kind, seconds unreachable_retry_after) {
  if (kind == UpstreamKind::kFederated && !failure.reason.empty() && failure.status < 400) {
    // A TokenRequest failure without an HTTP status (no answer, no credential): its reason decides.
    ImdsError e = from_federated(failure, unreachable_retry_after);
    if (!e.reason.empty()) return e;
  }
  if (failure.status == 0) {
    ImdsError e = make(http::Status::service_unavailable,
                       R"({"error":"service_unavailable","error_description":)"
                       R"("The token service could not be reached; retry later"})",
                       "upstream_unreachable");
    e.retry_after = failure.retry_after.value_or(unreachable_retry_after);
    return e;
  }
  if (failure.status < 400 || failure.status > 599) {
    return make(http::Status::bad_gateway,
                R"({"error":"server_error","error_description":"The token service gave an unexpected answer"})",
                "upstream_unexpected_status");
  }
  if (kind == UpstreamKind::kFederated) {
    ImdsError e = from_federated(failure, unreachable_retry_after);
    if (!e.reason.empty()) return e;
  }
  return kind == UpstreamKind::kImds ? from_imds(failure) : from_entra(failure);
}

ImdsError service_account_not_annotated(std::string_view detail) {
  return make(http::Status::bad_request,
              identity_body("invalid_request", "Identity not found: " + std::string(detail) +
                                                   " (annotate it with the client id of the identity it should use)"),
              "service_account_not_annotated");
}

ImdsError federated_identity_invalid(std::string_view detail) {
  return make(http::Status::bad_request, identity_body("invalid_request", std::string(detail)),
              "federated_identity_invalid");
}

ImdsError caller_refused(std::string_view reason) {
  ImdsError e =
      make(http::Status::forbidden,
           identity_body("forbidden", "podid could not tell which pod made this request (" + std::string(reason) + ")"),
           "caller_refused:" + std::string(reason));
  e.close_connection = true;
  return e;
}

ImdsError passthrough_blocked(std::string_view reason) {
  // IMDS's non-identity error shape: the pod asked for another endpoint, and its client parses that shape.
  return make(http::Status::forbidden, dump({{"error", "Request blocked by podid (" + std::string(reason) + ")"}}),
              "passthrough_blocked:" + std::string(reason));
}

ImdsError too_many_requests(seconds retry_after) {
  ImdsError e = make(http::Status::too_many_requests,
                     R"({"error":"too_many_requests","error_description":"Too many requests. Retry later."})",
                     "too_many_requests");
  e.retry_after = retry_after;
  return e;
}

ImdsError internal_error(std::string_view reason) {
  return make(http::Status::internal_server_error,
              R"({"error":"server_error","error_description":"podid failed to serve this request"})",
              "internal_error:" + std::string(reason));
}

http::Response to_response(const http::Request& req, const ImdsError& error) {
  http::Response res = http::text_response(req, error.status, error.body, error.content_type);
  if (error.retry_after) {
    res.set(boost::beast::http::field::retry_after, std::to_string(std::max<long long>(0, error.retry_after->count())));
  }
  if (error.status == http::Status::method_not_allowed) res.set(boost::beast::http::field::allow, "GET");
  if (error.close_connection) res.keep_alive(false);
  return res;
}

}  // namespace podid::agent::imds
