// SPDX-License-Identifier: Apache-2.0
// Token requests: what every SDK sends parses to what it means; every malformed request gets IMDS's answer.
#include "agent/imds/token_request.h"

#include <gtest/gtest.h>

#include <string>

#include "imds_test_util.h"

namespace podid::agent::imds {
namespace {

using testing::get;
using testing::parse_request;

constexpr const char* kGuid = "be5947ed-3560-4afe-9504-59967a63f810";
constexpr const char* kResId =
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id1";
constexpr const char* kResIdEncoded =
    "%2Fsubscriptions%2F0b1f6471-1bf0-4dda-aec3-cb9272f09590%2FresourceGroups%2Frg%2Fproviders%2F"
    "Microsoft.ManagedIdentity%2FuserAssignedIdentities%2Fid1";

TokenRequest expect_ok(const http::Request& req) {
  auto parsed = parse_token_request(req);
  if (auto* error = std::get_if<ImdsError>(&parsed)) {
    ADD_FAILURE() << "refused (" << error->reason << "): " << error->body << "\nfor " << req.target();
    return {};
  }
  return std::get<TokenRequest>(parsed);
}

ImdsError expect_error(const http::Request& req) {
  auto parsed = parse_token_request(req);
  if (auto* ok = std::get_if<TokenRequest>(&parsed)) {
    ADD_FAILURE() << "accepted " << req.target() << " as resource=" << ok->resource;
    return {};
  }
  return std::get<ImdsError>(parsed);
}

// ---- what real clients send (reference azure-wire-formats.md §3) -------------------------------------------

struct SdkCase {
  std::string name;
  std::string raw;  // the request as captured / as the client's source builds it
  TokenRequest want;
};

void PrintTo(const SdkCase& c, std::ostream* os) { *os << c.name; }

class SdkRequests : public ::testing::TestWithParam<SdkCase> {};

TEST_P(SdkRequests, ParseToWhatTheyMean) { EXPECT_EQ(expect_ok(parse_request(GetParam().raw)), GetParam().want); }

const std::string kJsHeaders =
    "Host: 169.254.169.254\r\nMetadata: true\r\nx-client-SKU: msal.js.node\r\nx-client-VER: 7.2.3\r\n"
    "x-ms-client-request-id: 6f0b8e3c-1c1a-4d7e-9b1e-2f7f0d1c9a11\r\n"
    "Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\nAccept-Encoding: gzip,deflate\r\n"
    "User-Agent: azsdk-js-identity/4.14.1 core-rest-pipeline/1.24.0 Node/20.20.2 (Linux; x64)\r\n"
    "Connection: keep-alive\r\n\r\n";
const std::string kGoHeaders =
    "Host: 169.254.169.254\r\nUser-Agent: azsdk-go-azidentity/v1.8.0 (go1.22.0; linux)\r\nMetadata: true\r\n"
    "X-Client-Sku: MSAL.Go\r\nX-Client-Ver: 1.4.0\r\nX-Ms-Client-Request-Id: 1\r\nAccept-Encoding: gzip\r\n\r\n";
const std::string kPythonHeaders =
    "Host: 169.254.169.254\r\nUser-Agent: azsdk-python-identity/1.21.0 Python/3.11.2 (Linux)\r\n"
    "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\nMetadata: true\r\n\r\n";
const std::string kDotnetHeaders = "Metadata: true\r\nHost: 169.254.169.254\r\n\r\n";
const std::string kTarget = "/metadata/identity/oauth2/token";
const std::string kVault = "https%3A%2F%2Fvault.azure.net";

TokenRequest want(std::string resource, SelectorKind kind = SelectorKind::kNone, std::string value = "") {
  return TokenRequest{std::move(resource), "2018-02-01", IdentitySelector{kind, std::move(value)}};
}

INSTANTIATE_TEST_SUITE_P(
    Captured, SdkRequests,
    ::testing::Values(
        // @azure/identity 4.14.1 / msal-node 7.2.3 [V]: api-version, resource, selector
        SdkCase{"js_system",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + " HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net")},
        SdkCase{"js_client_id",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + "&client_id=" + kGuid +
                    " HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net", SelectorKind::kClientId, kGuid)},
        SdkCase{"js_resource_id",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + "&msi_res_id=" + kResIdEncoded +
                    " HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net", SelectorKind::kResourceId, kResId)},
        SdkCase{"js_object_id",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + "&object_id=" + kGuid +
                    " HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net", SelectorKind::kObjectId, kGuid)},
        // ... with AZURE_POD_IDENTITY_AUTHORITY_HOST: msal-node's URL canonicalisation adds a trailing slash
        SdkCase{"js_authority_host",
                "GET " + kTarget + "/?api-version=2018-02-01&resource=" + kVault + " HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net")},
        // msal-node claims / CAE refresh adds parameters IMDS ignores
        SdkCase{"js_claims_refresh",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault +
                    "&token_sha256_to_refresh=9f86d081884c7d659a2feaa0c55ad015&xms_cc=cp1 HTTP/1.1\r\n" + kJsHeaders,
                want("https://vault.azure.net")},
        // Go azidentity / MSAL Go: url.Values.Encode() sorts the keys
        SdkCase{"go_client_id",
                "GET " + kTarget + "?api-version=2018-02-01&client_id=" + kGuid +
                    "&resource=https%3A%2F%2Fmanagement.azure.com%2F HTTP/1.1\r\n" + kGoHeaders,
                want("https://management.azure.com/", SelectorKind::kClientId, kGuid)},
        SdkCase{"go_resource_id",
                "GET " + kTarget + "?api-version=2018-02-01&msi_res_id=" + kResIdEncoded + "&resource=" + kVault +
                    " HTTP/1.1\r\n" + kGoHeaders,
                want("https://vault.azure.net", SelectorKind::kResourceId, kResId)},
        // go-autorest adal (what aad-pod-identity used): sorted, mi_res_id alias
        SdkCase{"adal_mi_res_id",
                "GET " + kTarget + "?api-version=2018-02-01&mi_res_id=" + kResIdEncoded +
                    "&resource=https%3A%2F%2Fvault.azure.net HTTP/1.1\r\n" + kGoHeaders,
                want("https://vault.azure.net", SelectorKind::kResourceId, kResId)},
        // Python azure-identity: api-version, resource, then client_id / identity_config
        SdkCase{"python_client_id",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + "&client_id=" + kGuid +
                    " HTTP/1.1\r\n" + kPythonHeaders,
                want("https://vault.azure.net", SelectorKind::kClientId, kGuid)},
        SdkCase{"python_object_id",
                "GET " + kTarget + "?api-version=2018-02-01&resource=" + kVault + "&object_id=" + kGuid +
                    " HTTP/1.1\r\n" + kPythonHeaders,
                want("https://vault.azure.net", SelectorKind::kObjectId, kGuid)},
        // .NET AppAuthentication: resource NOT encoded, api-version last
        SdkCase{
            "appauthentication_system",
            "GET " + kTarget + "?resource=https://vault.azure.net&api-version=2018-02-01 HTTP/1.1\r\n" + kDotnetHeaders,
            want("https://vault.azure.net")},
        SdkCase{"appauthentication_client_id",
                "GET " + kTarget + "?resource=https://vault.azure.net/&client_id=" + kGuid +
                    "&api-version=2018-02-01 HTTP/1.1\r\n" + kDotnetHeaders,
                want("https://vault.azure.net/", SelectorKind::kClientId, kGuid)},
        // az login --identity
        SdkCase{"az_cli",
                "GET " + kTarget +
                    "?resource=https%3A%2F%2Fmanagement.core.windows.net%2F&api-version=2018-02-01"
                    " HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: python-requests/2.28.1\r\n"
                    "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\nMetadata: true\r\n\r\n",
                want("https://management.core.windows.net/")},
        // curl with a lower-case header name and HTTP/1.0
        SdkCase{"curl_http10",
                "GET " + kTarget +
                    "?api-version=2018-02-01&resource=https://storage.azure.com/ HTTP/1.0\r\n"
                    "metadata: true\r\n\r\n",
                want("https://storage.azure.com/")}),
    [](const auto& info) { return info.param.name; });

// ---- the SDK probes and the header rules ---------------------------------------------------------------------

TEST(TokenRequest, ProbesGetTheMissingHeaderAnswer) {
  // @azure/identity DAC, Go DAC, AppAuthentication: no query, no Metadata header.
  auto js = parse_request(
      "GET /metadata/identity/oauth2/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
      "Accept: application/json\r\nAccept-Encoding: gzip,deflate\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(expect_error(js).reason, "missing_metadata_header");
  // Python: the full token request without the header.
  auto py = get(kTarget + "?api-version=2018-02-01&resource=" + kVault, "", "");
  ImdsError e = expect_error(py);
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.body, R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
  EXPECT_EQ(e.body.size(), 88u);
}

struct ErrorCase {
  std::string name;
  http::Request req;
  http::Status status;
  std::string reason;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class TokenRequestErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TokenRequestErrors, GetIMDSAnswer) {
  ImdsError e = expect_error(GetParam().req);
  EXPECT_EQ(e.status, GetParam().status);
  EXPECT_EQ(e.reason, GetParam().reason);
}

const std::string kGood = kTarget + "?api-version=2018-02-01&resource=" + kVault;

http::Request method(std::string verb, std::string target) {
  return parse_request(verb + " " + target + " HTTP/1.1\r\nMetadata: true\r\nContent-Length: 0\r\n\r\n");
}

INSTANTIATE_TEST_SUITE_P(
    Table, TokenRequestErrors,
    ::testing::Values(
        ErrorCase{"post", method("POST", kGood), http::Status::method_not_allowed, "method_not_allowed"},
        ErrorCase{"head", method("HEAD", kGood), http::Status::method_not_allowed, "method_not_allowed"},
        ErrorCase{"put", method("PUT", kGood), http::Status::method_not_allowed, "method_not_allowed"},
        // method first, as IMDS and the emulator check it
        ErrorCase{"post_without_header", parse_request("POST " + kGood + " HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
                  http::Status::method_not_allowed, "method_not_allowed"},
        ErrorCase{"no_metadata_header", get(kGood, "", ""), http::Status::bad_request, "missing_metadata_header"},
        ErrorCase{"metadata_True", get(kGood, "", "Metadata: True\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"metadata_false", get(kGood, "", "Metadata: false\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"metadata_empty", get(kGood, "", "Metadata:\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"metadata_1", get(kGood, "", "Metadata: 1\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"metadata_twice", get(kGood, "Metadata: true\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"metadata_list", get(kGood, "", "Metadata: true, true\r\n"), http::Status::bad_request,
                  "missing_metadata_header"},
        ErrorCase{"x_forwarded_for", get(kGood, "X-Forwarded-For: 10.0.0.1\r\n"), http::Status::bad_request,
                  "x_forwarded_for"},
        ErrorCase{"x_forwarded_for_empty", get(kGood, "x-forwarded-for:\r\n"), http::Status::bad_request,
                  "x_forwarded_for"},
        ErrorCase{"x_forwarded_for_without_metadata", get(kGood, "X-Forwarded-For: 1.2.3.4\r\n", ""),
                  http::Status::bad_request, "x_forwarded_for"},
        ErrorCase{"duplicate_resource", get(kGood + "&resource=https://storage.azure.com/"), http::Status::bad_request,
                  "duplicate_parameter"},
        ErrorCase{"duplicate_api_version", get(kGood + "&api-version=2018-02-01"), http::Status::bad_request,
                  "duplicate_parameter"},
        ErrorCase{"duplicate_case_insensitive", get(kGood + "&Resource=x"), http::Status::bad_request,
                  "duplicate_parameter"},
        ErrorCase{"duplicate_by_encoding", get(kGood + "&client_id=a&client%5Fid=a"), http::Status::bad_request,
                  "duplicate_parameter"},
        ErrorCase{"duplicate_unknown", get(kGood + "&bypass_cache=true&bypass_cache=true"), http::Status::bad_request,
                  "duplicate_parameter"},
        // duplicates are found before the api-version is read
        ErrorCase{"duplicate_before_api_version", get(kTarget + "?resource=a&resource=b"), http::Status::bad_request,
                  "duplicate_parameter"},
        ErrorCase{"api_version_missing", get(kTarget + "?resource=" + kVault), http::Status::bad_request,
                  "api_version_invalid"},
        ErrorCase{"api_version_empty", get(kTarget + "?api-version=&resource=" + kVault), http::Status::bad_request,
                  "api_version_invalid"},
        ErrorCase{"api_version_too_old", get(kTarget + "?api-version=2017-12-01&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"api_version_not_a_date", get(kTarget + "?api-version=2018-02-30&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"api_version_short", get(kTarget + "?api-version=2018-2-1&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"api_version_suffix", get(kTarget + "?api-version=2018-02-01-preview&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"api_version_word", get(kTarget + "?api-version=latest&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"api_version_month_13", get(kTarget + "?api-version=2019-13-01&resource=" + kVault),
                  http::Status::bad_request, "api_version_invalid"},
        // api-version is checked before resource (the probe of a no-query request never gets this far)
        ErrorCase{"no_query", get(kTarget), http::Status::bad_request, "api_version_invalid"},
        ErrorCase{"resource_missing", get(kTarget + "?api-version=2018-02-01"), http::Status::bad_request,
                  "resource_missing"},
        ErrorCase{"resource_empty", get(kTarget + "?api-version=2018-02-01&resource="), http::Status::bad_request,
                  "resource_missing"},
        ErrorCase{"resource_no_equals", get(kTarget + "?api-version=2018-02-01&resource"), http::Status::bad_request,
                  "resource_missing"},
        ErrorCase{"resource_only_scope_suffix", get(kTarget + "?api-version=2018-02-01&resource=%2F.default"),
                  http::Status::bad_request, "resource_missing"},
        ErrorCase{"client_and_object", get(kGood + "&client_id=a&object_id=b"), http::Status::bad_request,
                  "conflicting_selectors"},
        ErrorCase{"client_and_object_same_value", get(kGood + "&client_id=a&object_id=a"), http::Status::bad_request,
                  "conflicting_selectors"},
        ErrorCase{"client_and_res_id", get(kGood + "&client_id=a&msi_res_id=" + kResIdEncoded),
                  http::Status::bad_request, "conflicting_selectors"},
        ErrorCase{"res_id_and_alias_differ", get(kGood + "&msi_res_id=%2Fa&mi_res_id=%2Fb"), http::Status::bad_request,
                  "conflicting_selectors"},
        ErrorCase{"resource_control_character", get(kTarget + "?api-version=2018-02-01&resource=https%3A%2F%2Fx%0A"),
                  http::Status::bad_request, "invalid_parameter_encoding"},
        ErrorCase{"resource_nul", get(kTarget + "?api-version=2018-02-01&resource=https%3A%2F%2Fx%00y"),
                  http::Status::bad_request, "invalid_parameter_encoding"},
        ErrorCase{"resource_not_utf8", get(kTarget + "?api-version=2018-02-01&resource=https%3A%2F%2F%FFx"),
                  http::Status::bad_request, "invalid_parameter_encoding"},
        ErrorCase{"resource_overlong_utf8", get(kTarget + "?api-version=2018-02-01&resource=%C0%AF"),
                  http::Status::bad_request, "invalid_parameter_encoding"},
        ErrorCase{"client_id_control_character", get(kGood + "&client_id=a%0Db"), http::Status::bad_request,
                  "invalid_parameter_encoding"},
        ErrorCase{"value_too_long", get(kGood + "&client_id=" + std::string(kMaxParameterBytes + 1, 'a')),
                  http::Status::bad_request, "parameter_too_long"},
        ErrorCase{"unknown_value_too_long", get(kGood + "&xms_cc=" + std::string(kMaxParameterBytes + 1, 'a')),
                  http::Status::bad_request, "parameter_too_long"},
        ErrorCase{"name_too_long", get(kGood + "&" + std::string(kMaxParameterBytes + 1, 'n') + "=1"),
                  http::Status::bad_request, "parameter_too_long"}),
    [](const auto& info) { return info.param.name; });

TEST(TokenRequest, TooManyParameters) {
  std::string target = kGood;
  for (size_t i = 2; i < kMaxQueryParameters; ++i) target += "&p" + std::to_string(i) + "=1";
  expect_ok(get(target));  // exactly the limit
  EXPECT_EQ(expect_error(get(target + "&one_more=1")).reason, "too_many_parameters");
}

TEST(TokenRequest, LimitsAreInclusive) {
  std::string value(kMaxParameterBytes, 'a');
  EXPECT_EQ(expect_ok(get(kGood + "&client_id=" + value)).selector.value, value);
  // The limit is on the decoded length: 1024 `%61` escapes are 1024 bytes.
  std::string encoded;
  for (size_t i = 0; i < kMaxParameterBytes; ++i) encoded += "%61";
  EXPECT_EQ(expect_ok(get(kGood + "&client_id=" + encoded)).selector.value, value);
}

// ---- query decoding ------------------------------------------------------------------------------------------

TEST(TokenRequest, DecodesLikeFormEncodingWithAppAuthenticationLeniency) {
  auto resource_of = [](std::string encoded) {
    return expect_ok(get(kTarget + "?api-version=2018-02-01&resource=" + encoded)).resource;
  };
  EXPECT_EQ(resource_of("https://vault.azure.net"), "https://vault.azure.net");        // unencoded
  EXPECT_EQ(resource_of("https%3a%2f%2fvault.azure.net"), "https://vault.azure.net");  // lower-case escapes
  EXPECT_EQ(resource_of("api://my+app"), "api://my app");                              // `+` is a space
  EXPECT_EQ(resource_of("api://my%2Bapp"), "api://my+app");                            // `%2B` is a `+`
  EXPECT_EQ(resource_of("api://100%"), "api://100%");                                  // not an escape: kept
  EXPECT_EQ(resource_of("api://x%zz%4"), "api://x%zz%4");
  EXPECT_EQ(resource_of("https://x/?a=b"), "https://x/?a=b");                                    // `=` inside a value
  EXPECT_EQ(resource_of("https%3A%2F%2Fm%C3%BCller.example"), "https://m\xC3\xBCller.example");  // UTF-8
}

TEST(TokenRequest, DropsTheScopeSuffix) {
  auto resource_of = [](std::string encoded) {
    return expect_ok(get(kTarget + "?api-version=2018-02-01&resource=" + encoded)).resource;
  };
  EXPECT_EQ(resource_of("https://vault.azure.net/.default"), "https://vault.azure.net");
  EXPECT_EQ(resource_of("https%3A%2F%2Fvault.azure.net%2F.default"), "https://vault.azure.net");
  EXPECT_EQ(resource_of("https://management.azure.com//.default"), "https://management.azure.com/");
  EXPECT_EQ(resource_of("api://guid/.default"), "api://guid");
  // Only a trailing "/.default" is a scope suffix.
  EXPECT_EQ(resource_of("https://x/.default/y"), "https://x/.default/y");
  EXPECT_EQ(resource_of("https://x.default"), "https://x.default");
  EXPECT_EQ(resource_of("https://x/.DEFAULT"), "https://x/.DEFAULT");
}

TEST(TokenRequest, Selectors) {
  auto selector_of = [](std::string extra) { return expect_ok(get(kGood + extra)).selector; };
  EXPECT_EQ(selector_of(""), (IdentitySelector{SelectorKind::kNone, ""}));
  EXPECT_EQ(selector_of("&client_id=ABC"), (IdentitySelector{SelectorKind::kClientId, "ABC"}));
  EXPECT_EQ(selector_of("&Client_ID=abc"), (IdentitySelector{SelectorKind::kClientId, "abc"}));
  EXPECT_EQ(selector_of("&object_id=o"), (IdentitySelector{SelectorKind::kObjectId, "o"}));
  EXPECT_EQ(selector_of("&msi_res_id=%2Fa"), (IdentitySelector{SelectorKind::kResourceId, "/a"}));
  EXPECT_EQ(selector_of("&mi_res_id=%2Fa"), (IdentitySelector{SelectorKind::kResourceId, "/a"}));
  // Both resource-id spellings naming the same identity (Azure ids are case-insensitive) are one selector.
  EXPECT_EQ(selector_of("&msi_res_id=%2FA&mi_res_id=%2Fa"), (IdentitySelector{SelectorKind::kResourceId, "/A"}));
  // An empty selector names nothing.
  EXPECT_EQ(selector_of("&client_id="), (IdentitySelector{SelectorKind::kNone, ""}));
  EXPECT_EQ(selector_of("&client_id=&object_id=o"), (IdentitySelector{SelectorKind::kObjectId, "o"}));
}

TEST(TokenRequest, IgnoresUnknownParametersAndEmptyPairs) {
  auto r = expect_ok(get(kGood + "&bypass_cache=true&authority=https%3A%2F%2Flogin&xms_cc=cp1&principal_id=p&&=x&"
                                 "junk=%00%FF"));
  EXPECT_EQ(r, want("https://vault.azure.net"));
}

TEST(TokenRequest, AcceptsOnlyTheApiVersionsImdsLists) {
  for (std::string v : {"2018-02-01", "2019-08-01", "2021-02-01", "2021-12-13", "2025-04-07"}) {
    EXPECT_EQ(expect_ok(get(kTarget + "?resource=x&api-version=" + v)).api_version, v);
  }
  // Date-shaped but not a version IMDS serves (the first three used to pass), older than the identity
  // category, or not a date at all.
  for (std::string v : {"2031-12-31", "2024-02-29", "2019-08-02", "2018-01-31", "2017-04-02", "2023-02-29",
                        "0000-00-00", "%EF%BC%92018-02-01", "2018-02-01%20", "+2018-02-01"}) {
    EXPECT_EQ(expect_error(get(kTarget + "?resource=x&api-version=" + v)).reason, "api_version_invalid") << v;
  }
}

TEST(TokenRequest, MetadataHeaderNameIsCaseInsensitive) {
  for (std::string line : {"Metadata: true\r\n", "metadata: true\r\n", "METADATA: true\r\n", "Metadata:true\r\n",
                           "Metadata:   true  \r\n"}) {
    expect_ok(get(kGood, "", line));
  }
}

}  // namespace
}  // namespace podid::agent::imds
