// SPDX-License-Identifier: Apache-2.0
// The federated source against a loopback Entra ID: the exchange it sends (form and scope as the azwi proxy
// builds them), the cache key per (identity, subject), a rejected assertion replaced once by a fresh one, the
// provider's failures passed through, and Entra's refusals explained with the command that fixes them.
#include <gtest/gtest.h>

#include "podid/azure/federated_errors.h"
#include "podid/azure/federated_token_source.h"
#include "loopback_upstream.h"
#include "podid/encoding/base64.h"

namespace podid::azure {
namespace {

using namespace testing;
using json = nlohmann::json;

const std::string kClientId = "BE5947ED-3560-4afe-9504-59967a63f810";
const std::string kTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const std::string kSubject = "system:serviceaccount:team-a:web";
const std::string kIssuer = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/";

// An unsigned JWT with the given issuer (the source reads `iss` for messages only).
std::string sa_token(const std::string& tag) {
  auto b64 = [](const std::string& s) { return encoding::base64url_encode(s); };
  return b64(R"({"alg":"RS256"})") + "." + b64(R"({"iss":")" + kIssuer + R"(","sub":")" + kSubject + R"(","tag":")" +
                                               tag + R"("})") +
         ".sig";
}

class FakeProvider final : public AssertionProvider {
 public:
  boost::asio::awaitable<TokenOutcome> assertion(const FetchContext& context, bool fresh) override {
    contexts.push_back(context);
    fresh_flags.push_back(fresh);
    if (fail) co_return *fail;
    AccessToken t;
    t.access_token = sa_token(fresh ? "fresh" : "cached");
    co_return t;
  }
  std::string audience() const override { return std::string(kTokenExchangeAudience); }

  std::vector<FetchContext> contexts;
  std::vector<bool> fresh_flags;
  std::optional<UpstreamFailure> fail;
};

http::Response entra_error(bh::status status, const std::string& error, long code, const std::string& text) {
  json body = {{"error", error},
               {"error_description", "AADSTS" + std::to_string(code) + ": " + text + "\r\nTrace ID: x\r\nTimestamp: y"},
               {"error_codes", {code}}};
  return respond(status, body.dump());
}

class FederatedSourceTest : public UpstreamTest {
 protected:
  std::shared_ptr<FederatedTokenSource> make(FederatedSourceOptions extra = {}) {
    FederatedSourceOptions o = std::move(extra);
    o.authority = "http://127.0.0.1:" + std::to_string(port) + "/";
    if (o.tenant_id.empty()) o.tenant_id = kTenant;
    if (o.client_id.empty()) o.client_id = kClientId;
    if (o.subject.empty()) o.subject = kSubject;
    auto made = FederatedTokenSource::make(client, std::move(o), provider, clock);
    EXPECT_TRUE(made) << made.error().message();
    return *made;
  }
  FetchContext pod{.pod_namespace = "team-a", .pod_name = "web-0", .pod_uid = "uid-1", .service_account = "web"};
  FakeProvider provider;
};

TEST_F(FederatedSourceTest, ExchangesThePodsServiceAccountToken) {
  answer = [](const http::Request&) {
    return respond(bh::status::ok, R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"at"})");
  };
  auto source = make();
  auto out = fetch(*source, "https://management.azure.com/", pod);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method(), bh::verb::post);
  EXPECT_EQ(requests[0].target(), "/" + kTenant + "/oauth2/v2.0/token");
  auto form = parse_form(requests[0].body());
  EXPECT_EQ(form["client_id"], kClientId);
  EXPECT_EQ(form["scope"], "https://management.azure.com//.default");  // as the azwi proxy builds it
  EXPECT_EQ(form["grant_type"], "client_credentials");
  EXPECT_EQ(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_EQ(form["client_assertion"], sa_token("cached"));
  ASSERT_EQ(provider.contexts.size(), 1u);
  EXPECT_EQ(provider.contexts[0].pod_uid, "uid-1");
  auto* token = std::get_if<AccessToken>(&out);
  ASSERT_NE(token, nullptr) << std::get<UpstreamFailure>(out).detail;
  EXPECT_EQ(token->access_token, "at");
  EXPECT_EQ(token->client_id, kClientId);
  EXPECT_EQ(token->expires_on, clock.now() + 3599s);
}

TEST_F(FederatedSourceTest, CacheKeyNamesIdentityAndSubject) {
  auto a = make();
  auto b = make({.subject = "system:serviceaccount:team-a:other"});
  EXPECT_EQ(a->cache_key(), "federated/127.0.0.1:" + std::to_string(port) + "/" + kTenant +
                                "/be5947ed-3560-4afe-9504-59967a63f810/" + kSubject);
  EXPECT_NE(a->cache_key(), b->cache_key());
  EXPECT_EQ(make()->cache_key(), a->cache_key());
}

TEST_F(FederatedSourceTest, ARejectedAssertionIsReplacedOnce) {
  answer = [this](const http::Request& req) {
    if (parse_form(req.body())["client_assertion"] == sa_token("cached")) {
      return entra_error(bh::status::unauthorized, "invalid_client", 700024,
                         "Client assertion is not within its valid time range.");
    }
    return respond(bh::status::ok, R"({"expires_in":3599,"access_token":"at"})");
  };
  auto out = fetch(*make(), "https://vault.azure.net", pod);
  EXPECT_TRUE(std::holds_alternative<AccessToken>(out));
  EXPECT_EQ(provider.fresh_flags, (std::vector<bool>{false, true}));
  EXPECT_EQ(requests.size(), 2u);
}

TEST_F(FederatedSourceTest, AStillRejectedAssertionIsExplained) {
  answer = [](const http::Request&) {
    return entra_error(bh::status::unauthorized, "invalid_client", 700027, "Client assertion contains an invalid signature.");
  };
  auto out = fetch(*make(), "https://vault.azure.net", pod);
  auto* f = std::get_if<UpstreamFailure>(&out);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->reason, federated_reason::kAssertionRejected);
  EXPECT_EQ(requests.size(), 2u);  // once more with a fresh assertion, then no more
  EXPECT_NE(f->explanation.find(kIssuer), std::string::npos) << f->explanation;
}

TEST_F(FederatedSourceTest, MissingFederatedCredentialNamesTheFix) {
  answer = [](const http::Request&) {
    return entra_error(bh::status::unauthorized, "invalid_client", 700213,
                       "No matching federated identity record found for presented assertion subject "
                       "'system:serviceaccount:team-a:web'.");
  };
  auto source = make({.identity_resource_id = "/subscriptions/s/resourceGroups/rg-ids/providers/"
                                              "Microsoft.ManagedIdentity/userAssignedIdentities/web-id",
                      .origin = "AzureIdentity team-a/web"});
  auto out = fetch(*source, "https://vault.azure.net", pod);
  auto* f = std::get_if<UpstreamFailure>(&out);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status, 401u);
  EXPECT_EQ(f->reason, federated_reason::kNoFederatedCredential);
  EXPECT_EQ(requests.size(), 1u);  // nothing a fresh assertion would change
  EXPECT_NE(f->explanation.find("az identity federated-credential create --name podid-team-a-web --identity-name "
                                "web-id --resource-group rg-ids --issuer '" + kIssuer +
                                "' --subject 'system:serviceaccount:team-a:web' --audiences "
                                "'api://AzureADTokenExchange'"),
            std::string::npos)
      << f->explanation;
  EXPECT_NE(f->explanation.find("(from AzureIdentity team-a/web)"), std::string::npos) << f->explanation;
}

TEST_F(FederatedSourceTest, ProviderFailuresPassThroughWithoutAnExchange) {
  UpstreamFailure refused;
  refused.status = 403;
  refused.reason = std::string(federated_reason::kTokenRequestRefused);
  refused.explanation = "refused";
  provider.fail = refused;
  auto out = fetch(*make(), "https://vault.azure.net", pod);
  auto* f = std::get_if<UpstreamFailure>(&out);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->reason, federated_reason::kTokenRequestRefused);
  EXPECT_TRUE(requests.empty());
}

TEST_F(FederatedSourceTest, ThrottlingKeepsStatusAndRetryAfter) {
  answer = [](const http::Request&) {
    auto res = entra_error(bh::status::too_many_requests, "temporarily_unavailable", 50196, "throttled");
    res.set(bh::field::retry_after, "7");
    return res;
  };
  auto out = fetch(*make(), "https://vault.azure.net", pod);
  auto* f = std::get_if<UpstreamFailure>(&out);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status, 429u);
  EXPECT_EQ(f->retry_after, 7s);
  EXPECT_TRUE(f->reason.empty());
}

TEST(FederatedSourceFactory, RefusesWhatItCannotUse) {
  boost::asio::io_context io;
  http::Client client{io.get_executor(), http::ClientOptions{}};
  FakeProvider provider;
  FakeClock clock;
  EXPECT_FALSE(FederatedTokenSource::make(client, {.tenant_id = kTenant, .subject = kSubject}, provider, clock));
  EXPECT_FALSE(FederatedTokenSource::make(client, {.client_id = kClientId, .subject = kSubject}, provider, clock));
  EXPECT_FALSE(FederatedTokenSource::make(
      client, {.authority = "http://login.example/", .tenant_id = kTenant, .client_id = kClientId, .subject = kSubject},
      provider, clock));  // a token in clear to a non-loopback host
}

TEST(FederatedErrors, CodesAndCommands) {
  EXPECT_EQ(aadsts_code(R"({"error_codes":[700211]})"), 700211);
  EXPECT_EQ(aadsts_code(R"({"error_description":"AADSTS70021: No matching"})"), 70021);
  EXPECT_EQ(aadsts_code("not json"), std::nullopt);
  EXPECT_EQ(federated_credential_name("system:serviceaccount:team.a:web"), "podid-team-a-web");
  FederatedFacts app{.issuer = kIssuer, .subject = kSubject, .audience = "api://AzureADTokenExchange",
                     .client_id = kClientId, .app_registration = true};
  EXPECT_EQ(federated_credential_command(app),
            "az ad app federated-credential create --id " + kClientId +
                R"( --parameters '{"name":"podid-team-a-web","issuer":")" + kIssuer +
                R"(","subject":"system:serviceaccount:team-a:web","audiences":["api://AzureADTokenExchange"]}')");
  FederatedFacts unknown{.issuer = kIssuer, .subject = kSubject, .audience = "aud", .client_id = kClientId};
  EXPECT_NE(federated_credential_command(unknown).find("--identity-name <identity-name> --resource-group "
                                                       "<resource-group>"),
            std::string::npos);
  UpstreamFailure legacy;
  legacy.status = 400;
  legacy.body = R"({"error":"invalid_request","error_description":"AADSTS70021: No matching federated identity record"})";
  EXPECT_EQ(explain_exchange_failure(legacy, unknown).reason, federated_reason::kNoFederatedCredential);
  UpstreamFailure unknown_app = legacy;
  unknown_app.body = R"({"error":"unauthorized_client","error_codes":[700016]})";
  EXPECT_EQ(explain_exchange_failure(unknown_app, unknown).reason, federated_reason::kUnknownClientId);
  UpstreamFailure oidc = legacy;
  oidc.body = R"({"error":"invalid_request","error_codes":[50166]})";
  EXPECT_EQ(explain_exchange_failure(oidc, unknown).reason, federated_reason::kIssuerUnreachable);
}

}  // namespace
}  // namespace podid::azure
