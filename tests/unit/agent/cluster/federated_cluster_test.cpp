// SPDX-License-Identifier: Apache-2.0
// The cluster side of federated identities: service accounts' Azure Workload Identity annotations, the
// TokenRequest the agent sends (pod name AND uid, audience, lifetime) and what it makes of each answer, and the
// per-pod token cache (one TokenRequest per pod however many callers, renewed at 80% of its life, dropped with the
// pod), against a loopback API server.
#include <gtest/gtest.h>

#include "agent/cluster/pod_tokens.h"
#include "agent/cluster/service_account_store.h"
#include "agent/cluster/token_request_client.h"
#include "loopback_upstream.h"
#include "podid/azure/federated_errors.h"

namespace podid::agent {
namespace {

using namespace azure::testing;
using json = nlohmann::json;
namespace reason = azure::federated_reason;

json account(const std::string& ns, const std::string& name, json annotations = json::object()) {
  return {{"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", "1"}, {"annotations", annotations}}}};
}

TEST(ServiceAccountStore, KeepsAnnotatedAccountsAsFederatedIdentities) {
  ServiceAccountStore store;
  std::vector<std::string> changed;
  store.on_changed([&](const AzureIdentity& before) { changed.push_back(before.client_id); });
  store.replace({account("a", "web", {{"azure.workload.identity/client-id", " cid-1\n"},
                                      {"azure.workload.identity/tenant-id", "t-1"}}),
                 account("a", "plain")});
  ASSERT_NE(store.workload_identity("a", "web"), nullptr);
  const AzureIdentity& id = *store.workload_identity("a", "web");
  EXPECT_TRUE(id.federated);
  EXPECT_EQ(id.client_id, "cid-1");  // trimmed
  EXPECT_EQ(id.tenant_id, "t-1");
  EXPECT_EQ(id.ns + "/" + id.name, "a/serviceaccount/web");
  EXPECT_TRUE(is_service_account_identity(id));
  EXPECT_EQ(store.workload_identity("a", "plain"), nullptr);
  EXPECT_EQ(store.size(), 1u);

  // Re-annotated: the identity it stood for is reported, the new one served.
  store.apply(k8s::WatchEventType::kModified, account("a", "web", {{"azure.workload.identity/client-id", "cid-2"}}));
  EXPECT_EQ(changed, std::vector<std::string>{"cid-1"});
  EXPECT_EQ(store.workload_identity("a", "web")->client_id, "cid-2");
  // An annotation-irrelevant update fires nothing; losing the annotation fires.
  store.apply(k8s::WatchEventType::kModified, account("a", "web", {{"azure.workload.identity/client-id", "cid-2"},
                                                                   {"other", "x"}}));
  EXPECT_EQ(changed.size(), 1u);
  store.apply(k8s::WatchEventType::kModified, account("a", "web"));
  EXPECT_EQ(changed, (std::vector<std::string>{"cid-1", "cid-2"}));
  EXPECT_EQ(store.workload_identity("a", "web"), nullptr);
  // A bad annotation is skipped and counted.
  store.apply(k8s::WatchEventType::kAdded, account("a", "bad", {{"azure.workload.identity/client-id", 7}}));
  EXPECT_EQ(store.parse_errors(), 1u);
}

TEST(ServiceAccountStore, RelistAndDeleteReportWhatWent) {
  ServiceAccountStore store;
  int changed = 0;
  store.on_changed([&](const AzureIdentity&) { ++changed; });
  store.replace({account("a", "x", {{"azure.workload.identity/client-id", "c"}}),
                 account("a", "y", {{"azure.workload.identity/client-id", "d"}})});
  store.replace({account("a", "x", {{"azure.workload.identity/client-id", "c"}})});
  EXPECT_EQ(changed, 1);
  store.apply(k8s::WatchEventType::kDeleted, account("a", "x"));
  EXPECT_EQ(changed, 2);
  EXPECT_EQ(store.size(), 0u);
}

TEST(TokenRequest, BodyBindsThePodByNameAndUid) {
  azure::FetchContext pod{.pod_namespace = "a", .pod_name = "web-0", .pod_uid = "u-1", .service_account = "web"};
  json body = token_request_body({.audience = "api://AzureADTokenExchange", .expiration = std::chrono::seconds{900}}, pod);
  EXPECT_EQ(body, json::parse(R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{
      "audiences":["api://AzureADTokenExchange"],"expirationSeconds":900,
      "boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"web-0","uid":"u-1"}}})"));
  EXPECT_EQ(parse_rfc3339_utc("2027-01-15T08:00:00Z"),
            std::chrono::system_clock::time_point{std::chrono::seconds{1800000000}});
  EXPECT_TRUE(parse_rfc3339_utc("2027-01-15T08:00:00.123Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-01-15T08:00:00+01:00"));
  EXPECT_FALSE(parse_rfc3339_utc("yesterday"));
}

// A loopback API server for TokenRequests (plain HTTP: ApiClient speaks it as well as HTTPS).
class TokenRequestTest : public UpstreamTest {
 protected:
  void SetUp() override {
    UpstreamTest::SetUp();
    k8s::ClusterConfig config;
    config.server = base();
    config.bearer_token = "agent-token";
    api = std::make_unique<k8s::ApiClient>(io.get_executor(), std::move(config), "podid-test");
    credential = std::make_unique<ClientCredential>(*api, "the test's client");
    tokens = std::make_unique<TokenRequestClient>(*credential, TokenRequestSettings{}, clock);
    answer = [this](const http::Request&) { return minted(); };
  }

  http::Response minted(std::chrono::seconds life = std::chrono::seconds{3600}) {
    ++minted_count;
    std::time_t exp = std::chrono::system_clock::to_time_t(clock.now() + life);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&exp));
    json body = {{"status", {{"token", "sa-jwt-" + std::to_string(minted_count)}, {"expirationTimestamp", ts}}}};
    return respond(bh::status::created, body.dump());
  }

  azure::TokenOutcome ask(const azure::FetchContext& pod) {
    std::optional<azure::TokenOutcome> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await tokens->request(pod); }, asio::detached);
    while (!out) io.run_one_for(100ms);
    return *out;
  }

  azure::FetchContext pod{.pod_namespace = "a", .pod_name = "web-0", .pod_uid = "u-1", .service_account = "web"};
  std::unique_ptr<k8s::ApiClient> api;
  std::unique_ptr<ClientCredential> credential;
  std::unique_ptr<TokenRequestClient> tokens;
  int minted_count = 0;
};

TEST_F(TokenRequestTest, PostsToThePodsServiceAccountAndReadsTheToken) {
  auto out = ask(pod);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method(), bh::verb::post);
  EXPECT_EQ(requests[0].target(), "/api/v1/namespaces/a/serviceaccounts/web/token");
  EXPECT_EQ(requests[0][bh::field::authorization], "Bearer agent-token");
  EXPECT_EQ(json::parse(requests[0].body())["spec"]["boundObjectRef"]["uid"], "u-1");
  auto* t = std::get_if<azure::AccessToken>(&out);
  ASSERT_NE(t, nullptr) << std::get<azure::UpstreamFailure>(out).detail;
  EXPECT_EQ(t->access_token, "sa-jwt-1");
  EXPECT_EQ(t->expires_on, clock.now() + std::chrono::seconds{3600});
}

TEST_F(TokenRequestTest, EachFailureHasItsReason) {
  struct Case {
    bh::status status;
    std::string_view reason;
  };
  for (const Case& c : {Case{bh::status::forbidden, reason::kTokenRequestRefused},
                        Case{bh::status::bad_request, reason::kTokenRequestRefused},
                        Case{bh::status::not_found, reason::kPodGone}, Case{bh::status::conflict, reason::kPodGone},
                        Case{bh::status::too_many_requests, reason::kTokenRequestUnavailable},
                        Case{bh::status::internal_server_error, reason::kTokenRequestUnavailable}}) {
    answer = [&c](const http::Request&) {
      return respond(c.status, R"({"kind":"Status","message":"the API's own words","code":0})");
    };
    auto out = ask(pod);
    auto* f = std::get_if<azure::UpstreamFailure>(&out);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->reason, c.reason) << static_cast<unsigned>(c.status);
    EXPECT_EQ(f->status, static_cast<unsigned>(c.status));
    EXPECT_NE(f->explanation.find("the API's own words"), std::string::npos) << f->explanation;
  }
  acceptor.close();  // nobody listens: no answer at all
  auto out = ask(pod);
  EXPECT_EQ(std::get<azure::UpstreamFailure>(out).reason, reason::kTokenRequestUnavailable);
}

TEST_F(TokenRequestTest, PodTokensOneRequestPerPodRenewedAt80PercentDroppedWithThePod) {
  std::vector<unsigned> counted;
  PodServiceAccountTokens pods(io.get_executor(), *tokens, clock, [&](unsigned s) { counted.push_back(s); });
  auto get = [&](const azure::FetchContext& p, bool fresh = false) {
    std::optional<azure::TokenOutcome> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await pods.assertion(p, fresh); }, asio::detached);
    while (!out) io.run_one_for(100ms);
    return std::get<azure::AccessToken>(*out).access_token;
  };
  // Two callers at once: one TokenRequest.
  std::optional<azure::TokenOutcome> a, b;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { a = co_await pods.assertion(pod, false); }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { b = co_await pods.assertion(pod, false); }, asio::detached);
  while (!a || !b) io.run_one_for(100ms);
  EXPECT_EQ(requests.size(), 1u);
  EXPECT_EQ(get(pod), "sa-jwt-1");
  EXPECT_EQ(requests.size(), 1u);

  clock.advance(std::chrono::seconds{2800});  // 78%: not yet
  EXPECT_EQ(get(pod), "sa-jwt-1");
  EXPECT_EQ(requests.size(), 1u);
  clock.advance(std::chrono::seconds{100});  // 80.5%: served from cache, renewed behind it
  EXPECT_EQ(get(pod), "sa-jwt-1");
  for (int i = 0; i < 100 && (requests.size() < 2 || pods.stats().in_flight > 0); ++i) io.run_one_for(20ms);
  EXPECT_EQ(requests.size(), 2u);
  EXPECT_EQ(pods.stats().refreshes, 1u);
  EXPECT_EQ(get(pod), "sa-jwt-2");

  EXPECT_EQ(get(pod, /*fresh=*/true), "sa-jwt-3");  // a rejected assertion is replaced
  azure::FetchContext other = pod;
  other.pod_name = "web-1";
  other.pod_uid = "u-2";
  EXPECT_EQ(get(other), "sa-jwt-4");  // another pod, its own token
  pods.forget_pod("u-1");
  EXPECT_EQ(get(pod), "sa-jwt-5");
  EXPECT_EQ(counted, (std::vector<unsigned>{201, 201, 201, 201, 201}));
}

}  // namespace
}  // namespace podid::agent
