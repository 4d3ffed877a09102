// SPDX-License-Identifier: Apache-2.0
// Error answers: Azure's bodies byte for byte, the agent's own in IMDS's shape, and the HTTP framing.
#include "agent/imds/imds_errors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imds_test_util.h"

namespace podid::agent::imds {
namespace {

using std::chrono::seconds;
namespace bhttp = boost::beast::http;

TEST(ImdsErrors, AzureBodiesByteForByte) {
  // reference azure-wire-formats.md §1.3
  EXPECT_EQ(missing_metadata_header().body,
            R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
  EXPECT_EQ(missing_metadata_header().body.size(), 88u);
  EXPECT_EQ(identity_not_found().body, R"({"error":"invalid_request","error_description":"Identity not found"})");
  EXPECT_EQ(identity_not_found().body.size(), 68u);
  EXPECT_EQ(multiple_identities().body,
            R"({"error":"invalid_request","error_description":"Multiple user assigned identities exist, please )"
            R"(specify the clientId / resourceId of the identity in the token request"})");
  EXPECT_EQ(api_version_invalid().body,
            R"({"error":"Bad request. api-version is invalid or was not specified in the request. For more )"
            R"(information refer to aka.ms/azureimds","newest-versions":["2025-04-07","2024-07-17","2024-03-15"]})");
  // The emulator's [A] bodies (tests/harness/podid_harness/azure/imds.py), so agent and emulator agree.
  EXPECT_EQ(x_forwarded_for_present().body, missing_metadata_header().body);
  EXPECT_EQ(resource_missing().body,
            R"({"error":"invalid_request","error_description":"Required query variable 'resource' is missing"})");
  EXPECT_EQ(conflicting_selectors().body, R"({"error":"invalid_request","error_description":)"
                                          R"("Only one of client_id, object_id, msi_res_id may be specified"})");
  EXPECT_EQ(duplicate_parameter().body,
            R"({"error":"invalid_request","error_description":"Duplicate query parameter"})");
  EXPECT_EQ(method_not_allowed().body,
            R"({"error":"method_not_allowed","error_description":"The request method is not allowed"})");
  EXPECT_EQ(malformed_token_path().body, R"({"error":"invalid_request","error_description":"Invalid request"})");
}

// The reference's error table, one row each: status, reason, Retry-After.
struct Row {
  std::string name;
  ImdsError error;
  http::Status status;
  std::string reason;
  std::optional<seconds> retry_after;
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

class ErrorTable : public ::testing::TestWithParam<Row> {};

TEST_P(ErrorTable, StatusReasonRetryAfterAndValidJson) {
  const Row& row = GetParam();
  EXPECT_EQ(row.error.status, row.status);
  EXPECT_EQ(row.error.reason, row.reason);
  EXPECT_EQ(row.error.retry_after, row.retry_after);
  EXPECT_EQ(row.error.content_type, "application/json; charset=utf-8");
  auto body = nlohmann::json::parse(row.error.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << row.error.body;
  ASSERT_TRUE(body.contains("error")) << row.error.body;
  EXPECT_TRUE(body["error"].is_string());
  // A 403 saying "unreachable" makes SDKs conclude there is no IMDS (reference §1.3, §3.1).
  EXPECT_EQ(row.error.body.find("unreachable"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    All, ErrorTable,
    ::testing::Values(
        Row{"missing_metadata_header", missing_metadata_header(), http::Status::bad_request, "missing_metadata_header",
            std::nullopt},
        Row{"x_forwarded_for", x_forwarded_for_present(), http::Status::bad_request, "x_forwarded_for", std::nullopt},
        Row{"method_not_allowed", method_not_allowed(), http::Status::method_not_allowed, "method_not_allowed",
            std::nullopt},
        Row{"resource_missing", resource_missing(), http::Status::bad_request, "resource_missing", std::nullopt},
        Row{"api_version_invalid", api_version_invalid(), http::Status::bad_request, "api_version_invalid",
            std::nullopt},
        Row{"duplicate_parameter", duplicate_parameter(), http::Status::bad_request, "duplicate_parameter",
            std::nullopt},
        Row{"conflicting_selectors", conflicting_selectors(), http::Status::bad_request, "conflicting_selectors",
            std::nullopt},
        Row{"parameter_too_long", parameter_too_long(), http::Status::bad_request, "parameter_too_long", std::nullopt},
        Row{"too_many_parameters", too_many_parameters(), http::Status::bad_request, "too_many_parameters",
            std::nullopt},
        Row{"invalid_parameter_encoding", invalid_parameter_encoding(), http::Status::bad_request,
            "invalid_parameter_encoding", std::nullopt},
        Row{"malformed_token_path", malformed_token_path(), http::Status::bad_request, "malformed_token_path",
            std::nullopt},
        Row{"identity_not_found", identity_not_found(), http::Status::bad_request, "identity_not_found", std::nullopt},
        Row{"multiple_identities", multiple_identities(), http::Status::bad_request, "multiple_identities",
            std::nullopt},
        Row{"not_assigned_404", identity_not_assigned(PendingAnswer::kNotFound404, seconds{7}), http::Status::not_found,
            "identity_not_assigned", std::nullopt},
        Row{"not_assigned_503", identity_not_assigned(PendingAnswer::kUnavailable503, seconds{7}),
            http::Status::service_unavailable, "identity_not_assigned", seconds{7}},
        Row{"caller_refused", caller_refused("no_record"), http::Status::forbidden, "caller_refused:no_record",
            std::nullopt},
        Row{"passthrough_blocked", passthrough_blocked("path_not_allowed"), http::Status::forbidden,
            "passthrough_blocked:path_not_allowed", std::nullopt},
        Row{"too_many_requests", too_many_requests(seconds{1}), http::Status::too_many_requests, "too_many_requests",
            seconds{1}},
        Row{"internal_error", internal_error("bug"), http::Status::internal_server_error, "internal_error:bug",
            std::nullopt}),
    [](const auto& info) { return info.param.name; });

TEST(ImdsErrors, NotAssignedBodies) {
  EXPECT_EQ(identity_not_assigned(PendingAnswer::kNotFound404, seconds{5}).body,
            R"({"error":"not_found","error_description":)"
            R"("The identity of this pod is not assigned to this node yet; retry later"})");
  EXPECT_EQ(identity_not_assigned(PendingAnswer::kUnavailable503, seconds{5}).body,
            R"({"error":"service_unavailable","error_description":)"
            R"("The identity of this pod is not assigned to this node yet; retry later"})");
}

TEST(ImdsErrors, AgentPolicyBodies) {
  EXPECT_EQ(passthrough_blocked("instance_metadata_blocked").body,
            R"j({"error":"Request blocked by podid (instance_metadata_blocked)"})j");
  EXPECT_EQ(caller_refused("stale_record").body,
            R"j({"error":"forbidden","error_description":)j"
            R"j("podid could not tell which pod made this request (stale_record)"})j");
  EXPECT_TRUE(caller_refused("no_record").close_connection);
  // A reason with JSON-special characters still gives valid JSON.
  EXPECT_TRUE(nlohmann::json::parse(passthrough_blocked("a\"b\\c\n").body, nullptr, false).is_object());
}

// ---- upstream failures --------------------------------------------------------------------------------------

UpstreamFailure failure(unsigned status, std::string body, std::string content_type = "application/json",
                        std::optional<seconds> retry_after = std::nullopt) {
  UpstreamFailure f;
  f.status = status;
  f.body = std::move(body);
  f.content_type = std::move(content_type);
  f.retry_after = retry_after;
  f.detail = "test";
  return f;
}

TEST(UpstreamFailure, NoAnswerIsA503WithRetryAfter) {
  ImdsError e = upstream_failure(failure(0, "", ""), UpstreamKind::kImds);
  EXPECT_EQ(e.status, http::Status::service_unavailable);
  EXPECT_EQ(e.retry_after, seconds{5});
  EXPECT_EQ(e.reason, "upstream_unreachable");
  EXPECT_EQ(
      e.body,
      R"({"error":"service_unavailable","error_description":"The token service could not be reached; retry later"})");
  EXPECT_EQ(upstream_failure(failure(0, "", ""), UpstreamKind::kEntra, seconds{9}).retry_after, seconds{9});
  EXPECT_EQ(upstream_failure(failure(0, "", "", seconds{2}), UpstreamKind::kEntra, seconds{9}).retry_after, seconds{2});
}

TEST(UpstreamFailure, ImdsJsonPassesThroughByteForByte) {
  const std::string not_found = R"({"error":"invalid_request","error_description":"Identity not found"})";
  ImdsError e = upstream_failure(failure(400, not_found, "application/json; charset=utf-8"), UpstreamKind::kImds);
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.body, not_found);
  EXPECT_EQ(e.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(e.retry_after, std::nullopt);
  EXPECT_EQ(e.reason, "upstream_rejected");

  const std::string resource = R"({"error":"invalid_resource","error_description":)"
                               R"("AADSTS500011: The resource principal named x was not found.\r\nTrace ID: 1"})";
  EXPECT_EQ(upstream_failure(failure(400, resource), UpstreamKind::kImds).body, resource);

  ImdsError limited = upstream_failure(
      failure(429, R"({"error":"too_many_requests","error_description":"slow down"})", "application/json", seconds{3}),
      UpstreamKind::kImds);
  EXPECT_EQ(limited.status, http::Status::too_many_requests);
  EXPECT_EQ(limited.retry_after, seconds{3});
  EXPECT_EQ(limited.content_type, "application/json");
  EXPECT_EQ(limited.reason, "upstream_throttled");
}

TEST(UpstreamFailure, ImdsNonJsonIsReshaped) {
  ImdsError e = upstream_failure(failure(500, "<html>oops</html>", "text/html"), UpstreamKind::kImds);
  EXPECT_EQ(e.status, http::Status::internal_server_error);
  EXPECT_EQ(e.body, R"({"error":"server_error","error_description":"The upstream IMDS answered HTTP 500"})");
  EXPECT_EQ(e.content_type, "application/json; charset=utf-8");

  EXPECT_EQ(upstream_failure(failure(404, "", ""), UpstreamKind::kImds).body,
            R"({"error":"not_found","error_description":"The upstream IMDS answered HTTP 404"})");
  EXPECT_EQ(upstream_failure(failure(410, "", ""), UpstreamKind::kImds).status, http::Status::gone);
  // A JSON array is not IMDS's error shape either.
  EXPECT_EQ(upstream_failure(failure(503, "[1]"), UpstreamKind::kImds).body,
            R"({"error":"service_unavailable","error_description":"The upstream IMDS answered HTTP 503"})");
}

TEST(UpstreamFailure, EntraRefusalsBecomeIMDSStyle400) {
  const std::string invalid_client =
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.",)"
      R"("error_codes":[7000215],"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c"})";
  ImdsError e = upstream_failure(failure(401, invalid_client), UpstreamKind::kEntra);
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.body,
            R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})");
  EXPECT_EQ(e.reason, "upstream_rejected");
  EXPECT_EQ(e.retry_after, std::nullopt);

  ImdsError scope = upstream_failure(
      failure(400, R"({"error":"invalid_scope","error_description":"AADSTS70011: bad scope"})"), UpstreamKind::kEntra);
  EXPECT_EQ(scope.status, http::Status::bad_request);
  EXPECT_EQ(scope.body, R"({"error":"invalid_scope","error_description":"AADSTS70011: bad scope"})");

  // Not JSON at all, or JSON without the fields: the status speaks.
  EXPECT_EQ(upstream_failure(failure(403, "Forbidden", "text/plain"), UpstreamKind::kEntra).body,
            R"({"error":"invalid_request","error_description":"Entra ID answered HTTP 403"})");
  EXPECT_EQ(upstream_failure(failure(400, R"({"error":42})"), UpstreamKind::kEntra).body,
            R"({"error":"invalid_request","error_description":"Entra ID answered HTTP 400"})");
}

TEST(UpstreamFailure, EntraThrottlingAndOutagesKeepStatusAndRetryAfter) {
  ImdsError limited = upstream_failure(failure(429, "", "", seconds{30}), UpstreamKind::kEntra);
  EXPECT_EQ(limited.status, http::Status::too_many_requests);
  EXPECT_EQ(limited.retry_after, seconds{30});
  EXPECT_EQ(limited.body, R"({"error":"too_many_requests","error_description":"Entra ID answered HTTP 429"})");
  EXPECT_EQ(limited.reason, "upstream_throttled");

  ImdsError down =
      upstream_failure(failure(503, R"({"error":"temporarily_unavailable","error_description":"AADSTS90033"})",
                               "application/json", seconds{10}),
                       UpstreamKind::kEntra);
  EXPECT_EQ(down.status, http::Status::service_unavailable);
  EXPECT_EQ(down.retry_after, seconds{10});
  EXPECT_EQ(down.body, R"({"error":"temporarily_unavailable","error_description":"AADSTS90033"})");
  EXPECT_EQ(down.reason, "upstream_failed");
}

TEST(UpstreamFailure, UnexpectedStatusIs502) {
  for (unsigned status : {100u, 200u, 204u, 302u, 600u}) {
    ImdsError e = upstream_failure(failure(status, "{}"), UpstreamKind::kImds);
    EXPECT_EQ(e.status, http::Status::bad_gateway) << status;
    EXPECT_EQ(e.reason, "upstream_unexpected_status");
  }
}

TEST(UpstreamFailure, InvalidUtf8InEntraDescriptionStillGivesValidJson) {
  ImdsError e =
      upstream_failure(failure(400, "{\"error\":\"x\",\"error_description\":\"a\xFF\"}"), UpstreamKind::kEntra);
  // nlohmann refuses invalid UTF-8 on parse, so the status text is used; either way the body is JSON.
  EXPECT_TRUE(nlohmann::json::parse(e.body, nullptr, false).is_object()) << e.body;
}

// ---- federated: the failure's reason decides, its explanation is the description -----------------------------

UpstreamFailure federated(unsigned status, std::string_view reason, std::string body = "{}") {
  UpstreamFailure f = failure(status, std::move(body));
  f.reason = std::string(reason);
  f.explanation = "what to do about " + std::string(reason);
  return f;
}

TEST(UpstreamFailure, FederatedReasonsPickTheAnswer) {
  struct Case {
    UpstreamFailure failure;
    http::Status status;
    std::string code;
  };
  const Case cases[] = {
      {federated(403, "token_request_refused"), http::Status::forbidden, "forbidden"},
      {federated(0, "token_request_credential_unavailable"), http::Status::forbidden, "forbidden"},
      {federated(409, "pod_gone"), http::Status::not_found, "not_found"},
      {federated(500, "token_request_unavailable"), http::Status::service_unavailable, "service_unavailable"},
      {federated(0, "token_request_unavailable"), http::Status::service_unavailable, "service_unavailable"},
      {federated(401, "no_federated_credential", R"({"error":"invalid_client","error_codes":[700213]})"),
       http::Status::bad_request, "invalid_client"},
      {federated(400, "unknown_client_id", R"({"error":"unauthorized_client"})"), http::Status::bad_request,
       "unauthorized_client"},
  };
  for (const Case& c : cases) {
    ImdsError e = upstream_failure(c.failure, UpstreamKind::kFederated);
    EXPECT_EQ(e.status, c.status) << c.failure.reason;
    EXPECT_EQ(e.reason, c.failure.reason);
    auto body = nlohmann::json::parse(e.body);
    EXPECT_EQ(body["error"], c.code) << e.body;
    EXPECT_EQ(body["error_description"], "what to do about " + c.failure.reason);
    EXPECT_EQ(e.retry_after.has_value(), c.status == http::Status::service_unavailable) << c.failure.reason;
  }
  // Throttling and transient Entra failures carry no explanation: answered as Entra's.
  UpstreamFailure throttled = failure(429, R"({"error":"temporarily_unavailable"})");
  throttled.retry_after = seconds{7};
  ImdsError e = upstream_failure(throttled, UpstreamKind::kFederated);
  EXPECT_EQ(e.status, http::Status::too_many_requests);
  EXPECT_EQ(e.retry_after, seconds{7});
  EXPECT_EQ(e.reason, "upstream_throttled");
}

TEST(ImdsErrors, FederatedConfigurationAnswers) {
  ImdsError e = service_account_not_annotated("pod a/p is labelled ... has no annotation");
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.reason, "service_account_not_annotated");
  EXPECT_NE(e.body.find("Identity not found: pod a/p"), std::string::npos) << e.body;
  EXPECT_EQ(federated_identity_invalid("no tenant").reason, "federated_identity_invalid");
}

// ---- HTTP framing --------------------------------------------------------------------------------------------

TEST(ToResponse, Framing) {
  auto req = testing::get("/metadata/identity/oauth2/token");
  http::Response res = to_response(req, missing_metadata_header());
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(res[bhttp::field::content_length], "88");
  EXPECT_EQ(res[bhttp::field::server], "podid");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(res.count(bhttp::field::retry_after), 0u);
  EXPECT_EQ(res.body(), missing_metadata_header().body);
}

TEST(ToResponse, KeepAliveFollowsTheRequest) {
  EXPECT_FALSE(to_response(testing::get("/", "Connection: close\r\n"), identity_not_found()).keep_alive());
  auto http10 = testing::parse_request("GET / HTTP/1.0\r\n\r\n");
  http::Response res = to_response(http10, identity_not_found());
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  auto http10_keep = testing::parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(to_response(http10_keep, identity_not_found()).keep_alive());
  // A refused caller's connection is closed whatever it asked.
  EXPECT_FALSE(to_response(testing::get("/"), caller_refused("no_record")).keep_alive());
}

TEST(ToResponse, RetryAfterAndAllow) {
  auto req = testing::get("/metadata/identity/oauth2/token");
  http::Response pending = to_response(req, identity_not_assigned(PendingAnswer::kUnavailable503, seconds{20}));
  EXPECT_EQ(pending.result(), http::Status::service_unavailable);
  EXPECT_EQ(pending[bhttp::field::retry_after], "20");
  http::Response wrong_method = to_response(req, method_not_allowed());
  EXPECT_EQ(wrong_method[bhttp::field::allow], "GET");
  // An upstream's content type survives.
  ImdsError e = missing_metadata_header();
  e.content_type = "application/json";
  EXPECT_EQ(to_response(req, e)[bhttp::field::content_type], "application/json");
}

}  // namespace
}  // namespace podid::agent::imds
