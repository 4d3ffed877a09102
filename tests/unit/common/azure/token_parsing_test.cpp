// SPDX-License-Identifier: Apache-2.0
// What the token sources send and read, without sockets: request bytes, answer parsing, Retry-After, Secret keys.
#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>

#include "podid/azure/retry_after.h"
#include "podid/azure/sp_credential.h"
#include "podid/azure/token_requests.h"
#include "podid/azure/token_response.h"
#include "podid/encoding/percent.h"

namespace podid::azure {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
namespace bh = boost::beast::http;

const system_clock::time_point kNow{std::chrono::seconds{1'732'443'300}};  // Sun, 24 Nov 2024 10:15:00 GMT

// --- percent-encoding -------------------------------------------------------------------------------------

TEST(UrlEncoding, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(encoding::percent_encode("https://vault.azure.net"), "https%3A%2F%2Fvault.azure.net");
  EXPECT_EQ(encoding::percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(encoding::percent_encode("a b+c&d=e/f?g#h%"), "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
  EXPECT_EQ(encoding::percent_encode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(encoding::percent_encode(""), "");
}

// --- requests ---------------------------------------------------------------------------------------------

TEST(ImdsRequest, UserAssignedByClientId) {
  auto req = imds_token_request("/", "https://vault.azure.net", "be5947ed-3560-4afe-9504-59967a63f810");
  EXPECT_EQ(req.method(), bh::verb::get);
  EXPECT_EQ(req.target(),
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
            "&client_id=be5947ed-3560-4afe-9504-59967a63f810");
  EXPECT_EQ(req["Metadata"], "true");
  EXPECT_EQ(req.count("X-Forwarded-For"), 0u);  // IMDS rejects requests that carry it
  EXPECT_TRUE(req.body().empty());
}

TEST(ImdsRequest, SystemAssignedHasNoClientIdAndBasePathIsKept) {
  auto req = imds_token_request("/prefix/", "https://management.azure.com/", "");
  EXPECT_EQ(req.target(),
            "/prefix/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure."
            "com%2F");
  EXPECT_EQ(imds_token_request("", "r", "").target(),
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r");
}

TEST(EntraRequest, EndpointToleratesTrailingSlashesAndDefaultsTheAuthority) {
  EXPECT_EQ(entra_token_endpoint("https://login.microsoftonline.com/", "72f988bf-86f1-41af-91ab-2d7cd011db47").value(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
  EXPECT_EQ(entra_token_endpoint("https://login.microsoftonline.us", "contoso.onmicrosoft.com").value(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(entra_token_endpoint("", "t").value(), "https://login.microsoftonline.com/t/oauth2/v2.0/token");
  EXPECT_EQ(entra_token_endpoint("https://127.0.0.1:8443//", "t").value(),
            "https://127.0.0.1:8443/t/oauth2/v2.0/token");
}

TEST(EntraRequest, TenantAndAuthorityThatWouldChangeTheUrlAreRefused) {
  for (const char* bad : {"", "a/b", "..", "t?x=1", "t#f", "t%2F", "t b"}) {
    auto r = entra_token_endpoint("https://login.microsoftonline.com/", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  }
  EXPECT_FALSE(entra_token_endpoint("https://login.microsoftonline.com/?x", "t").ok());
  EXPECT_FALSE(entra_token_endpoint("https://login.microsoftonline.com/#x", "t").ok());
}

TEST(EntraRequest, CredentialsTravelOnlyOverHttpsOrToLoopback) {
  EXPECT_TRUE(check_entra_transport("https", "login.microsoftonline.com").ok());
  EXPECT_TRUE(check_entra_transport("http", "127.0.0.1").ok());
  EXPECT_TRUE(check_entra_transport("http", "127.12.0.9").ok());
  EXPECT_TRUE(check_entra_transport("http", "::1").ok());
  EXPECT_TRUE(check_entra_transport("http", "localhost").ok());
  for (const char* host : {"login.microsoftonline.com", "10.0.0.1", "127.0.0.1.evil.example", "127.example", "::2"}) {
    auto s = check_entra_transport("http", host);
    ASSERT_FALSE(s.ok()) << host;
    EXPECT_NE(s.error().context.find("not https"), std::string::npos);
  }
}

TEST(EntraRequest, SecretForm) {
  EXPECT_EQ(entra_secret_form("app-id", "https://management.azure.com/", "s3cr3t+/="),
            "client_id=app-id&scope=https%3A%2F%2Fmanagement.azure.com%2F%2F.default"
            "&grant_type=client_credentials&client_secret=s3cr3t%2B%2F%3D");
  EXPECT_EQ(entra_scope("https://vault.azure.net"), "https://vault.azure.net/.default");
}

TEST(EntraRequest, AssertionFormAndPost) {
  std::string form = entra_assertion_form("app-id", "https://vault.azure.net", "h.c.s");
  EXPECT_EQ(form,
            "client_id=app-id&scope=https%3A%2F%2Fvault.azure.net%2F.default&grant_type=client_credentials"
            "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
            "&client_assertion=h.c.s");
  auto req = entra_token_request("/t/oauth2/v2.0/token", form);
  EXPECT_EQ(req.method(), bh::verb::post);
  EXPECT_EQ(req.target(), "/t/oauth2/v2.0/token");
  EXPECT_EQ(req[bh::field::content_type], "application/x-www-form-urlencoded;charset=utf-8");
  EXPECT_EQ(req[bh::field::content_length], std::to_string(form.size()));
  EXPECT_EQ(req.body(), form);
}

// --- answers ----------------------------------------------------------------------------------------------

TokenAnswerContext ctx() { return {"https://vault.azure.net", "asked-id", kNow}; }

TEST(TokenAnswer, ImdsStrings) {
  auto t = parse_token_answer(
      R"({"access_token":"eyJ0eXAi","refresh_token":"","expires_in":"86399","expires_on":"1732530000",
          "ext_expires_in":"86399","not_before":"1732443300","resource":"https://vault.azure.net/",
          "token_type":"Bearer","client_id":"be5947ed"})",
      ctx());
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->access_token, "eyJ0eXAi");
  EXPECT_EQ(t->token_type, "Bearer");
  EXPECT_EQ(t->resource, "https://vault.azure.net");  // as asked, not the echo
  EXPECT_EQ(t->client_id, "be5947ed");
  EXPECT_EQ(t->issued_at, kNow);
  EXPECT_EQ(t->expires_on, system_clock::time_point{std::chrono::seconds{1732530000}});  // expires_on wins
  EXPECT_EQ(t->not_before, system_clock::time_point{std::chrono::seconds{1732443300}});
  EXPECT_EQ(t->ext_expires_in, 86399s);
}

TEST(TokenAnswer, NumbersAndExpiresInFallbackAsEntraV2Sends) {
  auto t = parse_token_answer(R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"x"})",
                              ctx());
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->expires_on, kNow + 3599s);
  EXPECT_EQ(t->not_before, kNow);
  EXPECT_EQ(t->client_id, "asked-id");  // v2 does not name the client
  EXPECT_EQ(t->ext_expires_in, 3599s);
}

TEST(TokenAnswer, NumericExpiresOnAndEmptyStringsAsAbsent) {
  auto t = parse_token_answer(R"({"access_token":"x","expires_on":1732530000,"expires_in":"","not_before":"",
                                  "token_type":""})",
                              ctx());
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->expires_on, system_clock::time_point{std::chrono::seconds{1732530000}});
  EXPECT_EQ(t->token_type, "Bearer");
  EXPECT_EQ(t->ext_expires_in, 0s);
}

// Found by tests/fuzz (token_answer): a time beyond what system_clock holds (nanoseconds in 64 bits, until
// 2262) overflowed when converted; 20346744074 s wrapped to a token "expiring" in 2030 and was served.
TEST(TokenAnswer, TimesBeyondTheClockAreOutOfRange) {
  for (const char* body : {R"({"access_token":"x","expires_on":"20346744074"})",
                           R"({"access_token":"x","expires_on":20346744074})",
                           R"({"access_token":"x","expires_on":"999999999999999"})",
                           R"({"access_token":"x","expires_in":18614300774})",
                           R"({"access_token":"x","expires_in":"99999999999999"})",
                           R"({"access_token":"x","expires_in":60,"not_before":20346744074})",
                           R"({"access_token":"x","expires_in":60,"ext_expires_in":9e14})"}) {
    auto t = parse_token_answer(body, ctx());
    ASSERT_FALSE(t.ok()) << body;
    EXPECT_NE(t.error().context.find("out of range"), std::string::npos) << body << " -> " << t.error().context;
  }
  auto latest = parse_token_answer(R"({"access_token":"x","expires_on":"4000000000"})", ctx());  // 2096
  ASSERT_TRUE(latest.ok()) << latest.error().message();
  EXPECT_EQ(latest->expires_on, system_clock::time_point{std::chrono::seconds{4'000'000'000}});
}

TEST(TokenAnswer, EveryBadBodyIsAClearError) {
  struct Case {
    const char* body;
    const char* says;
  } cases[] = {
      {"not json", "not JSON"},
      {R"([{"access_token":"x","expires_in":1}])", "not a JSON object"},
      {R"({"expires_in":3599})", "no access_token"},
      {R"({"access_token":"","expires_in":3599})", "no access_token"},
      {R"({"access_token":"x"})", "neither expires_on nor expires_in"},
      {R"({"access_token":"x","expires_on":"2026-01-01T00:00:00Z"})", "expires_on is not a whole number"},
      {R"({"access_token":"x","expires_in":-5})", "expires_in is negative"},
      {R"({"access_token":"x","expires_in":1.5})", "expires_in is not a whole number"},
      {R"({"access_token":"x","expires_in":true})", "neither a number nor a string"},
      {R"({"access_token":"x","expires_on":"1000"})", "expired before it arrived"},
      {R"({"access_token":"x","expires_in":0})", "expired before it arrived"},
      {R"({"access_token":"x","expires_in":60,"not_before":"soon"})", "not_before is not a whole number"},
  };
  for (const auto& c : cases) {
    auto t = parse_token_answer(c.body, ctx());
    ASSERT_FALSE(t.ok()) << c.body;
    EXPECT_EQ(t.error().code, std::errc::bad_message);
    EXPECT_NE(t.error().context.find(c.says), std::string::npos) << c.body << " -> " << t.error().context;
    EXPECT_EQ(t.error().context.find("\"x\""), std::string::npos);  // the token never reaches a log
  }
}

TEST(UpstreamFailures, Non200PassesStatusBodyTypeAndRetryAfter) {
  http::Response res{bh::status::too_many_requests, 11};
  res.set(bh::field::content_type, "application/json; charset=utf-8");
  res.set(bh::field::retry_after, "7");
  res.body() = R"({"error":"too_many_requests","error_description":"slow down\r\nTrace ID: 1"})";
  auto f = failure_from_response(res, kNow, "IMDS");
  EXPECT_EQ(f.status, 429u);
  EXPECT_EQ(f.body, res.body());
  EXPECT_EQ(f.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(f.retry_after, 7s);
  EXPECT_EQ(f.detail, "IMDS answered 429: too_many_requests: slow down");
}

TEST(UpstreamFailures, EntraErrorAndHttpDateRetryAfter) {
  http::Response res{bh::status::unauthorized, 11};
  res.set(bh::field::retry_after, "Sun, 24 Nov 2024 10:16:00 GMT");
  res.body() =
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"})";
  auto f = failure_from_response(res, kNow, "Entra ID");
  EXPECT_EQ(f.status, 401u);
  EXPECT_EQ(f.retry_after, 60s);
  EXPECT_EQ(f.detail, "Entra ID answered 401: invalid_client: AADSTS7000215: Invalid client secret provided.");
}

TEST(UpstreamFailures, PlainTextBodyAndNoRetryAfter) {
  http::Response res{bh::status::service_unavailable, 11};
  res.set(bh::field::content_type, "text/plain");
  res.set(bh::field::retry_after, "soon");
  res.body() = "down";
  auto f = failure_from_response(res, kNow, "IMDS");
  EXPECT_EQ(f.retry_after, std::nullopt);
  EXPECT_EQ(f.detail, "IMDS answered 503");
  EXPECT_EQ(f.body, "down");
}

TEST(UpstreamFailures, TransportAndUnusableAreStatusZero) {
  Error e{std::make_error_code(std::errc::connection_refused), "GET http://169.254.169.254:80/metadata"};
  auto t = transport_failure(e, "IMDS");
  EXPECT_EQ(t.status, 0u);
  EXPECT_NE(t.detail.find("IMDS unreachable: GET http://169.254.169.254:80/metadata: "), std::string::npos);
  auto u = unusable_answer({std::make_error_code(std::errc::bad_message), "token answer is not JSON"}, "Entra ID");
  EXPECT_EQ(u.status, 0u);
  EXPECT_NE(u.detail.find("Entra ID answered 200 without a usable token: token answer is not JSON"), std::string::npos);
}

// --- Retry-After ------------------------------------------------------------------------------------------

TEST(RetryAfter, DelaySeconds) {
  EXPECT_EQ(parse_retry_after("0", kNow), 0s);
  EXPECT_EQ(parse_retry_after(" 120 ", kNow), 120s);
  EXPECT_EQ(parse_retry_after("99999999999999999999", kNow), 86400s);  // capped, no overflow
  EXPECT_EQ(parse_retry_after("", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("-1", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.5", kNow), std::nullopt);
  EXPECT_EQ(parse_retry_after("12abc", kNow), std::nullopt);
}

TEST(RetryAfter, HttpDatesInAllThreeForms) {
  auto expected = kNow + 90s;  // Sun, 24 Nov 2024 10:16:30 GMT
  EXPECT_EQ(parse_http_date("Sun, 24 Nov 2024 10:16:30 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sunday, 24-Nov-24 10:16:30 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sun Nov 24 10:16:30 2024"), expected);
  EXPECT_EQ(parse_http_date("Thu Nov  7 10:16:30 2024"), kNow - 17 * 24h + 90s);
  EXPECT_EQ(parse_retry_after("Sun, 24 Nov 2024 10:16:30 GMT", kNow), 90s);
  EXPECT_EQ(parse_retry_after("Sun, 24 Nov 2024 10:16:30 GMT", kNow + 500ms), 90s);  // rounded up
  EXPECT_EQ(parse_retry_after("Sun, 24 Nov 2024 10:00:00 GMT", kNow), 0s);           // past
}

TEST(RetryAfter, MalformedDatesAreIgnored) {
  for (const char* bad : {"Sun, 24 Nov 2024 10:16:30 UTC", "Sun, 31 Feb 2024 10:16:30 GMT",
                          "Sun, 24 Foo 2024 10:16:30 GMT", "Sun, 24 Nov 2024 25:16:30 GMT",
                          "Sun, 24 Nov 2024 10:16 GMT", "2024-11-24T10:16:30Z", "Sun, 24 Nov 24 10:16:30 GMT"}) {
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
    EXPECT_EQ(parse_retry_after(bad, kNow), std::nullopt) << bad;
  }
}

// Found by tests/fuzz (http_date): system_clock counts nanoseconds in 64 bits (1677..2262); a later or earlier
// date overflowed the conversion (undefined behaviour, a garbage instant) instead of being refused.
TEST(RetryAfter, DatesTheClockCannotHoldAreIgnored) {
  for (const char* far : {"Sun Nov  6 08:49:37 2994", "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 1000 00:00:00 GMT",
                          "Sat, 12 Apr 2262 00:00:00 GMT"}) {
    EXPECT_EQ(parse_http_date(far), std::nullopt) << far;
    EXPECT_EQ(parse_retry_after(far, kNow), std::nullopt) << far;
  }
  EXPECT_NE(parse_http_date("Fri, 11 Apr 2262 00:00:00 GMT"), std::nullopt);  // the last whole day it holds
}

// --- Secret keys ------------------------------------------------------------------------------------------

TEST(SecretCredential, ClientSecretKeyWinsThenTheOnlyKey) {
  EXPECT_EQ(secret_credential_from_data({{"clientSecret", "a"}, {"other", "b"}})->client_secret, "a");
  EXPECT_EQ(secret_credential_from_data({{"password", "only"}})->client_secret, "only");
}

TEST(SecretCredential, AmbiguousOrEmptySecretsAreErrorsNamingKeysNotValues) {
  auto several = secret_credential_from_data({{"a", "value-a"}, {"b", "value-b"}});
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.error().context.find("several keys (a, b)"), std::string::npos) << several.error().context;
  EXPECT_EQ(several.error().context.find("value-"), std::string::npos);
  auto none = secret_credential_from_data({});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().context.find("no other key"), std::string::npos);
  auto empty = secret_credential_from_data({{"clientSecret", ""}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().context.find("\"clientSecret\" is empty"), std::string::npos);
}

TEST(CertificateCredential, CertificateAndOptionalPassword) {
  auto c = certificate_credential_from_data({{"certificate", "DER"}, {"password", "pw"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->pkcs12, "DER");
  EXPECT_EQ(c->password, "pw");
  EXPECT_EQ(certificate_credential_from_data({{"certificate", "DER"}})->password, "");
  auto missing = certificate_credential_from_data({{"cert", "DER"}, {"password", "pw"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().context.find("keys: cert, password"), std::string::npos) << missing.error().context;
}

TEST(CredentialFingerprint, ChangesWithTheCredentialAndDoesNotContainIt) {
  auto a = credential_fingerprint(SecretCredential{"s3cr3t"});
  EXPECT_EQ(a, credential_fingerprint(SecretCredential{"s3cr3t"}));
  EXPECT_NE(a, credential_fingerprint(SecretCredential{"s3cr3u"}));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find("s3cr3t"), std::string::npos);
  EXPECT_NE(credential_fingerprint(CertificateCredential{"ab", "c"}),
            credential_fingerprint(CertificateCredential{"a", "bc"}));
  EXPECT_NE(credential_fingerprint(CertificateCredential{"p12", "pw1"}),
            credential_fingerprint(CertificateCredential{"p12", "pw2"}));
}

}  // namespace
}  // namespace podid::azure
