// SPDX-License-Identifier: Apache-2.0
// The IMDS and Entra ID sources against a loopback upstream, with the real HTTP client: the request bytes they
// send, and what they make of each answer.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "podid/azure/entra_token_source.h"
#include "podid/azure/imds_token_source.h"
#include "fakes.h"
#include "loopback_upstream.h"
#include "test_pki.h"

namespace podid::azure {
namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::FakeClock;

const std::string kClientId = "BE5947ED-3560-4afe-9504-59967a63f810";
const std::string kTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";

using testing::UpstreamTest;
using testing::claims_of;
using testing::parse_form;
using testing::respond;

// --- IMDS -------------------------------------------------------------------------------------------------

using ImdsSourceTest = UpstreamTest;

TEST_F(ImdsSourceTest, UserAssignedToken) {
  answer = [](const http::Request&) {
    return respond(bh::status::ok,
                   R"({"access_token":"eyJ.a.b","refresh_token":"","expires_in":"86399","expires_on":"1800086399",
                       "ext_expires_in":"86399","not_before":"1800000000","resource":"https://vault.azure.net",
                       "token_type":"Bearer","client_id":"be5947ed-3560-4afe-9504-59967a63f810"})");
  };
  ImdsTokenSource source(client, base(), kClientId, clock);
  auto out = fetch(source, "https://vault.azure.net");
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method(), bh::verb::get);
  EXPECT_EQ(req.target(),
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
            "&client_id=BE5947ED-3560-4afe-9504-59967a63f810");
  EXPECT_EQ(req["Metadata"], "true");
  EXPECT_EQ(req.count("X-Forwarded-For"), 0u);

  auto* token = std::get_if<AccessToken>(&out);
  ASSERT_NE(token, nullptr) << std::get<UpstreamFailure>(out).detail;
  EXPECT_EQ(token->access_token, "eyJ.a.b");
  EXPECT_EQ(token->client_id, "be5947ed-3560-4afe-9504-59967a63f810");
  EXPECT_EQ(token->resource, "https://vault.azure.net");
  EXPECT_EQ(token->issued_at, clock.now());
  EXPECT_EQ(token->expires_on, std::chrono::system_clock::time_point{std::chrono::seconds{1800086399}});
  EXPECT_EQ(source.cache_key(), "imds/be5947ed-3560-4afe-9504-59967a63f810");
  EXPECT_EQ(source.describe(), "imds client_id=" + kClientId);
}

TEST_F(ImdsSourceTest, SystemAssignedSendsNoClientId) {
  answer = [](const http::Request&) {
    return respond(bh::status::ok, R"({"access_token":"t","expires_in":3600,"client_id":"node-mi"})");
  };
  ImdsTokenSource source(client, base(), "", clock);
  auto out = fetch(source, "https://management.azure.com/");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target(),
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F");
  ASSERT_TRUE(std::holds_alternative<AccessToken>(out));
  EXPECT_EQ(std::get<AccessToken>(out).client_id, "node-mi");
  EXPECT_EQ(std::get<AccessToken>(out).expires_on, clock.now() + 3600s);
  EXPECT_EQ(source.cache_key(), "imds/system-assigned");
}

TEST_F(ImdsSourceTest, ThrottledAnswerKeepsStatusBodyAndRetryAfter) {
  answer = [](const http::Request&) {
    auto res = respond(bh::status::too_many_requests,
                       R"({"error":"too_many_requests","error_description":"Too many requests"})");
    res.set(bh::field::retry_after, "5");
    return res;
  };
  ImdsTokenSource source(client, base(), kClientId, clock);
  auto out = fetch(source, "https://vault.azure.net");
  auto* f = std::get_if<UpstreamFailure>(&out);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status, 429u);
  EXPECT_EQ(f->body, R"({"error":"too_many_requests","error_description":"Too many requests"})");
  EXPECT_EQ(f->content_type, "application/json; charset=utf-8");
  EXPECT_EQ(f->retry_after, 5s);
  EXPECT_EQ(f->detail, "IMDS answered 429: too_many_requests: Too many requests");
}

TEST_F(ImdsSourceTest, IdentityNotFoundIsPassedOn) {
  answer = [](const http::Request&) {
    return respond(bh::status::bad_request, R"({"error":"invalid_request","error_description":"Identity not found"})");
  };
  ImdsTokenSource source(client, base(), kClientId, clock);
  auto out = fetch(source, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  EXPECT_EQ(std::get<UpstreamFailure>(out).status, 400u);
  EXPECT_EQ(std::get<UpstreamFailure>(out).retry_after, std::nullopt);
}

TEST_F(ImdsSourceTest, Unusable200IsStatusZero) {
  answer = [](const http::Request&) { return respond(bh::status::ok, R"([{"access_token":"t"}])"); };
  ImdsTokenSource source(client, base(), kClientId, clock);
  auto out = fetch(source, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  const auto& f = std::get<UpstreamFailure>(out);
  EXPECT_EQ(f.status, 0u);
  EXPECT_NE(f.detail.find("IMDS answered 200 without a usable token: token answer is not a JSON object"),
            std::string::npos)
      << f.detail;
  EXPECT_TRUE(f.body.empty());
}

TEST_F(ImdsSourceTest, NoAnswerIsStatusZeroWithDetail) {
  // A port nothing listens on: bind one, then close it.
  uint16_t dead_port;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    dead_port = a.local_endpoint().port();
  }
  ImdsTokenSource source(client, http::Url::parse("http://127.0.0.1:" + std::to_string(dead_port)).value(), kClientId,
                         clock);
  auto out = fetch(source, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  const auto& f = std::get<UpstreamFailure>(out);
  EXPECT_EQ(f.status, 0u);
  EXPECT_NE(f.detail.find("IMDS unreachable"), std::string::npos) << f.detail;
}

// --- Entra ID ---------------------------------------------------------------------------------------------

using EntraSourceTest = UpstreamTest;

EntraSourceOptions options_for(uint16_t port, std::string trailing = "/") {
  return {
      .authority = "http://127.0.0.1:" + std::to_string(port) + trailing, .tenant_id = kTenant, .client_id = "app-id"};
}

http::Response v2_success(const http::Request&) {
  return respond(bh::status::ok,
                 R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"sp-tok"})");
}

TEST_F(EntraSourceTest, ClientSecretPostAndV2Answer) {
  answer = v2_success;
  std::string secret = "s3cr3t+/=";
  auto made = EntraTokenSource::with_secret(
      client, options_for(port), [&]() -> Result<SecretCredential> { return SecretCredential{secret}; }, clock);
  ASSERT_TRUE(made.ok()) << made.error().message();
  auto& source = **made;
  auto out = fetch(source, "https://management.azure.com/");
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method(), bh::verb::post);
  EXPECT_EQ(req.target(), "/" + kTenant + "/oauth2/v2.0/token");
  EXPECT_EQ(req[bh::field::content_type], "application/x-www-form-urlencoded;charset=utf-8");
  EXPECT_EQ(req.body(),
            "client_id=app-id&scope=https%3A%2F%2Fmanagement.azure.com%2F%2F.default&grant_type=client_credentials"
            "&client_secret=s3cr3t%2B%2F%3D");

  auto* token = std::get_if<AccessToken>(&out);
  ASSERT_NE(token, nullptr) << std::get<UpstreamFailure>(out).detail;
  EXPECT_EQ(token->access_token, "sp-tok");
  EXPECT_EQ(token->client_id, "app-id");
  EXPECT_EQ(token->resource, "https://management.azure.com/");
  EXPECT_EQ(token->expires_on, clock.now() + 3599s);
  EXPECT_EQ(token->ext_expires_in, 3599s);
  EXPECT_EQ(source.describe(), "entra sp-secret tenant=" + kTenant + " client_id=app-id");

  // The cache key follows the secret, without containing it.
  std::string key = source.cache_key();
  EXPECT_EQ(key.rfind("sp-secret/127.0.0.1:" + std::to_string(port) + "/" + kTenant + "/app-id/", 0), 0u) << key;
  EXPECT_EQ(key.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(key, source.cache_key());
  secret = "rotated";
  EXPECT_NE(key, source.cache_key());
}

TEST_F(EntraSourceTest, UnreadableSecretIsAFailureWithoutUpstreamCall) {
  answer = v2_success;
  auto made = EntraTokenSource::with_secret(
      client, options_for(port, ""),
      []() -> Result<SecretCredential> { return os_error(ENOENT, "secret ns/sp-secret not found"); }, clock);
  ASSERT_TRUE(made.ok());
  auto out = fetch(**made, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  EXPECT_EQ(std::get<UpstreamFailure>(out).status, 0u);
  EXPECT_NE(std::get<UpstreamFailure>(out).detail.find("no usable credential: secret ns/sp-secret not found"),
            std::string::npos);
  EXPECT_TRUE(requests.empty());
  EXPECT_NE((*made)->cache_key().find("/unavailable"), std::string::npos);
}

TEST_F(EntraSourceTest, InvalidSecretAnswerIsPassedOn) {
  const std::string body =
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1","error_codes":[7000215]})";
  answer = [&](const http::Request&) { return respond(bh::status::unauthorized, body); };
  auto made = EntraTokenSource::with_secret(
      client, options_for(port), []() -> Result<SecretCredential> { return SecretCredential{"wrong"}; }, clock);
  ASSERT_TRUE(made.ok());
  auto out = fetch(**made, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  const auto& f = std::get<UpstreamFailure>(out);
  EXPECT_EQ(f.status, 401u);
  EXPECT_EQ(f.body, body);
  EXPECT_EQ(f.detail, "Entra ID answered 401: invalid_client: AADSTS7000215: Invalid client secret provided.");
  EXPECT_EQ(f.detail.find("wrong"), std::string::npos);
}

TEST_F(EntraSourceTest, CertificateAssertionVerifiesAgainstTheCertificate) {
  const auto& id = testing::rsa_identity();
  answer = v2_success;
  auto made = EntraTokenSource::with_certificate(
      client, options_for(port),
      [&]() -> Result<CertificateCredential> {
        return CertificateCredential{id.p12, testing::RsaIdentity::kPassword};
      },
      clock);
  ASSERT_TRUE(made.ok()) << made.error().message();
  auto& source = **made;
  for (int i = 0; i < 2; ++i) {  // the second fetch signs with the key loaded by the first
    auto out = fetch(source, "https://vault.azure.net");
    ASSERT_TRUE(std::holds_alternative<AccessToken>(out)) << std::get<UpstreamFailure>(out).detail;
  }
  ASSERT_EQ(requests.size(), 2u);
  auto form = parse_form(requests[0].body());
  EXPECT_EQ(form["client_id"], "app-id");
  EXPECT_EQ(form["scope"], "https://vault.azure.net/.default");
  EXPECT_EQ(form["grant_type"], "client_credentials");
  EXPECT_EQ(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_EQ(form.count("client_secret"), 0u);

  const std::string& jwt = form["client_assertion"];
  auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
  json header = json::parse(testing::b64url_decode(jwt.substr(0, dot1)));
  json claims = claims_of(jwt);
  EXPECT_EQ(header["x5t#S256"], testing::b64url_of_digest(id.cert.get(), EVP_sha256()));
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port) + "/" + kTenant + "/oauth2/v2.0/token";
  EXPECT_EQ(claims["aud"], endpoint);
  EXPECT_EQ(source.token_endpoint(), endpoint);
  EXPECT_EQ(claims["iss"], "app-id");
  EXPECT_EQ(claims["sub"], "app-id");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  EXPECT_EQ(claims["nbf"], now);
  EXPECT_EQ(claims["exp"], now + 600);
  EXPECT_TRUE(testing::verify_rs256(X509_get0_pubkey(id.cert.get()), jwt.substr(0, dot2),
                                    testing::b64url_decode(jwt.substr(dot2 + 1))));
  EXPECT_NE(claims_of(parse_form(requests[1].body())["client_assertion"])["jti"], claims["jti"]);
  EXPECT_EQ(source.cache_key().rfind("sp-cert/", 0), 0u);
}

TEST_F(EntraSourceTest, WrongCertificatePasswordIsAFailureWithoutUpstreamCall) {
  auto made = EntraTokenSource::with_certificate(
      client, options_for(port),
      [&]() -> Result<CertificateCredential> {
        return CertificateCredential{testing::rsa_identity().p12, "nope"};
      },
      clock);
  ASSERT_TRUE(made.ok());
  auto out = fetch(**made, "https://vault.azure.net");
  ASSERT_TRUE(std::holds_alternative<UpstreamFailure>(out));
  EXPECT_NE(std::get<UpstreamFailure>(out).detail.find("wrong password"), std::string::npos);
  EXPECT_TRUE(requests.empty());
}

TEST_F(EntraSourceTest, FactoriesRefuseWhatWouldLeakOrMisrouteACredential) {
  auto getter = []() -> Result<SecretCredential> { return SecretCredential{"s"}; };
  auto in_clear = EntraTokenSource::with_secret(
      client, {.authority = "http://login.example.com/", .tenant_id = kTenant, .client_id = "app"}, getter, clock);
  ASSERT_FALSE(in_clear.ok());
  EXPECT_NE(in_clear.error().context.find("not https"), std::string::npos);
  auto bad_tenant = EntraTokenSource::with_secret(client, {.tenant_id = "../evil", .client_id = "app"}, getter, clock);
  EXPECT_FALSE(bad_tenant.ok());
  auto no_client = EntraTokenSource::with_secret(client, {.tenant_id = kTenant}, getter, clock);
  EXPECT_FALSE(no_client.ok());
  auto no_getter = EntraTokenSource::with_secret(client, {.tenant_id = kTenant, .client_id = "app"}, nullptr, clock);
  EXPECT_FALSE(no_getter.ok());
  auto fine = EntraTokenSource::with_secret(client, {.tenant_id = kTenant, .client_id = "app"}, getter, clock);
  ASSERT_TRUE(fine.ok()) << fine.error().message();
  EXPECT_EQ((*fine)->token_endpoint(), "https://login.microsoftonline.com/" + kTenant + "/oauth2/v2.0/token");
}

}  // namespace
}  // namespace podid::azure
