// SPDX-License-Identifier: Apache-2.0
// ArmCredential against a fake IMDS and a fake Entra ID on loopback, with the real HTTP client and a clock the
// test moves: the request each credential kind sends, one upstream call for many callers, refresh ahead of
// expiry, and failures named in the error.
#include "controller/cloud/arm_credential.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "loopback_server.h"
#include "run_until.h"

namespace podid::controller::cloud {
namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;
using nlohmann::json;
using podid::testing::run_task;
using podid::testing::run_until;
using testing::LoopbackServer;
using testing::respond;

class MovingClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now() const override { return now_; }
  void advance(std::chrono::seconds d) { now_ += d; }
  long long epoch() const { return std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count(); }

 private:
  std::chrono::system_clock::time_point now_{std::chrono::seconds{1'800'000'000}};
};

const CloudEnvironment kPublic{"AzurePublicCloud", "https://management.azure.com/",
                               "https://login.microsoftonline.com/", "https://management.azure.com/"};

std::string query_value(std::string_view target, std::string_view key) {
  auto pos = target.find(std::string(key) + "=");
  if (pos == std::string_view::npos) return "";
  auto start = pos + key.size() + 1;
  auto end = target.find('&', start);
  return std::string(target.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

class ArmCredentialTest : public ::testing::Test {
 protected:
  // IMDS's answer: every value a string; expires_on = now + lifetime.
  http::Response imds_token(const std::string& token, std::chrono::seconds lifetime) {
    json j = {{"access_token", token},
              {"refresh_token", ""},
              {"expires_in", std::to_string(lifetime.count())},
              {"expires_on", std::to_string(clock.epoch() + lifetime.count())},
              {"not_before", std::to_string(clock.epoch())},
              {"resource", "https://management.azure.com/"},
              {"token_type", "Bearer"},
              {"client_id", "uami-1"}};
    return respond(200, j.dump());
  }

  // Answers token "tok-<n>" (n from 1) with `lifetime`, counting calls.
  void serve_tokens(std::chrono::seconds lifetime) {
    upstream.answer = [this, lifetime](const http::Request&, size_t i) {
      return imds_token("tok-" + std::to_string(i + 1), lifetime);
    };
  }

  ArmCredential imds_credential(const std::string& client_id = "uami-1", ArmCredentialOptions options = {}) {
    options.imds_endpoint = upstream.url("/");
    auto c = ArmCredential::create(http_client, ArmAuth{.method = AuthMethod::kManagedIdentity, .client_id = client_id},
                                   kPublic, options, clock);
    EXPECT_TRUE(c.ok()) << c.error().message();
    return std::move(c).value();
  }

  Result<std::string> token(ArmCredential& c) { return run_task(io, c.token()); }
  // The token, or the error's text (which no expected token equals).
  static std::string text(const Result<std::string>& r) { return r.ok() ? r.value() : "error: " + r.error().message(); }

  asio::io_context io;
  LoopbackServer upstream{io, nullptr};
  http::Client http_client{io.get_executor(), http::ClientOptions{.timeout = 5s}};
  MovingClock clock;
};

TEST_F(ArmCredentialTest, ImdsRequestForTheTokenAudience) {
  serve_tokens(24h);
  auto c = imds_credential("UAMI-1");
  auto t = token(c);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t.value(), "tok-1");
  ASSERT_EQ(upstream.seen().size(), 1u);
  const auto& req = upstream.seen()[0].request;
  EXPECT_EQ(req.method(), bh::verb::get);
  EXPECT_TRUE(std::string(req.target()).starts_with("/metadata/identity/oauth2/token?")) << req.target();
  EXPECT_EQ(query_value(req.target(), "resource"), "https%3A%2F%2Fmanagement.azure.com%2F");
  EXPECT_EQ(query_value(req.target(), "client_id"), "UAMI-1");
  EXPECT_EQ(req["Metadata"], "true");
  EXPECT_EQ(c.describe().find("imds"), 0u) << c.describe();
}

TEST_F(ArmCredentialTest, SystemAssignedSendsNoClientId) {
  serve_tokens(24h);
  auto c = imds_credential("");
  ASSERT_TRUE(token(c).ok());
  ASSERT_EQ(upstream.seen().size(), 1u);
  EXPECT_EQ(std::string(upstream.seen()[0].request.target()).find("client_id"), std::string::npos);
}

TEST_F(ArmCredentialTest, ManyCallersOneUpstreamCall) {
  serve_tokens(24h);
  upstream.delay = 100ms;  // every caller arrives while the first fetch is in flight
  auto c = imds_credential();
  std::vector<std::optional<Result<std::string>>> got(10);
  for (auto& slot : got) {
    asio::co_spawn(
        io, [&c, &slot]() -> asio::awaitable<void> { slot.emplace(co_await c.token()); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  ASSERT_TRUE(run_until(io, [&] {
    return std::all_of(got.begin(), got.end(), [](const auto& s) { return s.has_value(); });
  }));
  for (const auto& slot : got) {
    ASSERT_TRUE(slot->ok()) << slot->error().message();
    EXPECT_EQ(slot->value(), "tok-1");
  }
  EXPECT_EQ(upstream.seen().size(), 1u);
  EXPECT_EQ(c.fetches(), 1u);

  // And later callers are answered from memory.
  EXPECT_EQ(text(token(c)), "tok-1");
  EXPECT_EQ(upstream.seen().size(), 1u);
}

TEST_F(ArmCredentialTest, RefreshesFiveMinutesBeforeExpiry) {
  serve_tokens(1h);
  auto c = imds_credential();
  EXPECT_EQ(text(token(c)), "tok-1");
  clock.advance(3600s - 301s);
  EXPECT_EQ(text(token(c)), "tok-1") << "more than 5 minutes left: kept";
  EXPECT_EQ(upstream.seen().size(), 1u);
  clock.advance(2s);
  EXPECT_EQ(text(token(c)), "tok-2") << "less than 5 minutes left: refreshed";
  EXPECT_EQ(upstream.seen().size(), 2u);
}

TEST_F(ArmCredentialTest, ShortLivedTokenIsKeptHalfItsLife) {
  serve_tokens(400s);  // 5 minutes before expiry would be 100 s in: half its life (200 s) is later
  auto c = imds_credential();
  EXPECT_EQ(text(token(c)), "tok-1");
  clock.advance(150s);
  EXPECT_EQ(text(token(c)), "tok-1");
  clock.advance(60s);
  EXPECT_EQ(text(token(c)), "tok-2");
}

TEST_F(ArmCredentialTest, BearerSourceSharesTheCacheAndOutlivesTheCredential) {
  serve_tokens(24h);
  std::function<asio::awaitable<Result<std::string>>()> bearer;
  {
    auto c = imds_credential();
    EXPECT_EQ(text(token(c)), "tok-1");
    bearer = c.bearer_source();
  }
  auto t = run_task(io, bearer());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value(), "tok-1");
  EXPECT_EQ(upstream.seen().size(), 1u);
}

TEST_F(ArmCredentialTest, ImdsErrorIsNamed) {
  upstream.answer = [](const http::Request&, size_t) {
    return respond(400, R"({"error":"invalid_request","error_description":"Identity not found"})");
  };
  auto c = imds_credential();
  auto t = token(c);
  ASSERT_FALSE(t.ok());
  const std::string m = t.error().message();
  EXPECT_NE(m.find("IMDS answered 400"), std::string::npos) << m;
  EXPECT_NE(m.find("Identity not found"), std::string::npos) << m;
  EXPECT_NE(m.find("uami-1"), std::string::npos) << m;
  EXPECT_EQ(t.error().code, std::make_error_code(std::errc::permission_denied));

  // A failure is not kept: the next caller asks again.
  EXPECT_FALSE(token(c).ok());
  EXPECT_EQ(upstream.seen().size(), 2u);
}

TEST_F(ArmCredentialTest, ErrorWithoutJsonShowsTheBodysStart) {
  upstream.answer = [](const http::Request&, size_t) { return respond(502, "<html>upstream gateway broke</html>"); };
  auto c = imds_credential();
  auto t = token(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("502"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("gateway broke"), std::string::npos) << t.error().message();
}

TEST_F(ArmCredentialTest, NoAnswerIsAnIoError) {
  uint16_t closed;
  {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed = probe.local_endpoint().port();
  }
  auto c = ArmCredential::create(http_client, ArmAuth{.method = AuthMethod::kManagedIdentity}, kPublic,
                                 ArmCredentialOptions{.imds_endpoint = "http://127.0.0.1:" + std::to_string(closed)},
                                 clock);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto t = token(*c);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, std::make_error_code(std::errc::io_error));
  EXPECT_NE(t.error().message().find("unreachable"), std::string::npos) << t.error().message();
}

TEST_F(ArmCredentialTest, FailedRefreshKeepsTheValidTokenAndWaitsBeforeRetrying) {
  bool failing = false;
  upstream.answer = [&](const http::Request&, size_t i) {
    if (failing) return respond(500, R"({"error":"unknown","error_description":"IMDS is having a bad day"})");
    return imds_token("tok-" + std::to_string(i + 1), 1h);
  };
  auto c = imds_credential();
  EXPECT_EQ(text(token(c)), "tok-1");
  failing = true;
  clock.advance(3600s - 200s);  // refresh due, 200 s left
  EXPECT_EQ(text(token(c)), "tok-1") << "refresh failed: the still valid token is served";
  EXPECT_EQ(upstream.seen().size(), 2u);
  clock.advance(10s);
  EXPECT_EQ(text(token(c)), "tok-1");
  EXPECT_EQ(upstream.seen().size(), 2u) << "no new attempt within refresh_retry_delay";
  clock.advance(25s);
  failing = false;
  EXPECT_EQ(text(token(c)), "tok-3");
  EXPECT_EQ(upstream.seen().size(), 3u);
}

TEST_F(ArmCredentialTest, FailedRefreshOfANearlyExpiredTokenIsAnError) {
  bool failing = false;
  upstream.answer = [&](const http::Request&, size_t i) {
    if (failing) return respond(500, R"({"error":"unknown","error_description":"down"})");
    return imds_token("tok-" + std::to_string(i + 1), 1h);
  };
  auto c = imds_credential();
  EXPECT_EQ(text(token(c)), "tok-1");
  failing = true;
  clock.advance(3600s - 30s);  // less than kStaleGrace left
  EXPECT_FALSE(token(c).ok());
}

// --- Entra ID ---------------------------------------------------------------------------------------------------

std::map<std::string, std::string> form_of(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    auto amp = body.find('&', start);
    auto pair = body.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    auto eq = pair.find('=');
    out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

class EntraCredentialTest : public ArmCredentialTest {
 protected:
  CloudEnvironment environment() const {
    return {"Emulators", "http://127.0.0.1:1/", upstream.url("/"), "https://management.azure.com/"};
  }
};

TEST_F(EntraCredentialTest, ClientSecretAgainstTheEnvironmentsAuthority) {
  upstream.answer = [](const http::Request&, size_t) {
    return respond(200, R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"sp-tok"})");
  };
  auto c = ArmCredential::create(http_client,
                                 ArmAuth{.method = AuthMethod::kClientSecret,
                                         .client_id = "app-1",
                                         .tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                         .client_secret = "s3cr3t+/="},
                                 environment(), {}, clock);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto t = token(*c);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t.value(), "sp-tok");
  ASSERT_EQ(upstream.seen().size(), 1u);
  const auto& req = upstream.seen()[0].request;
  EXPECT_EQ(req.method(), bh::verb::post);
  EXPECT_EQ(req.target(), "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
  auto form = form_of(req.body());
  EXPECT_EQ(form["client_id"], "app-1");
  EXPECT_EQ(form["client_secret"], "s3cr3t%2B%2F%3D");
  EXPECT_EQ(form["grant_type"], "client_credentials");
  EXPECT_EQ(form["scope"], "https%3A%2F%2Fmanagement.azure.com%2F%2F.default");

  EXPECT_EQ(text(token(*c)), "sp-tok");
  EXPECT_EQ(upstream.seen().size(), 1u) << "cached";
}

TEST_F(EntraCredentialTest, InvalidClientIsNamed) {
  upstream.answer = [](const http::Request&, size_t) {
    return respond(401,
                   R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]})");
  };
  auto c = ArmCredential::create(
      http_client,
      ArmAuth{.method = AuthMethod::kClientSecret, .client_id = "app-1", .tenant_id = "t-1", .client_secret = "bad"},
      environment(), {}, clock);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto t = token(*c);
  ASSERT_FALSE(t.ok());
  const std::string m = t.error().message();
  EXPECT_NE(m.find("401"), std::string::npos) << m;
  EXPECT_NE(m.find("invalid_client"), std::string::npos) << m;
  EXPECT_NE(m.find("AADSTS7000215"), std::string::npos) << m;
  EXPECT_EQ(m.find("bad"), std::string::npos) << "never the secret: " << m;
}

TEST_F(EntraCredentialTest, UnreadableCertificateFileSendsNothing) {
  auto c = ArmCredential::create(http_client,
                                 ArmAuth{.method = AuthMethod::kClientCertificate,
                                         .client_id = "app-1",
                                         .tenant_id = "t-1",
                                         .cert_path = "/nonexistent/podid/sp.pfx"},
                                 environment(), {}, clock);
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto t = token(*c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("/nonexistent/podid/sp.pfx"), std::string::npos) << t.error().message();
  EXPECT_TRUE(upstream.seen().empty());
}

TEST_F(EntraCredentialTest, RefusedConfigurations) {
  auto bad_tenant = ArmCredential::create(
      http_client,
      ArmAuth{.method = AuthMethod::kClientSecret, .client_id = "app", .tenant_id = "t/../x", .client_secret = "s"},
      environment(), {}, clock);
  EXPECT_FALSE(bad_tenant.ok());

  CloudEnvironment clear_text = environment();
  clear_text.active_directory_endpoint = "http://login.example.com/";
  auto in_clear = ArmCredential::create(
      http_client, ArmAuth{.method = AuthMethod::kClientSecret, .client_id = "app", .tenant_id = "t", .client_secret = "s"},
      clear_text, {}, clock);
  ASSERT_FALSE(in_clear.ok());
  EXPECT_NE(in_clear.error().message().find("not https"), std::string::npos) << in_clear.error().message();

  auto bad_imds = ArmCredential::create(http_client, ArmAuth{}, kPublic, ArmCredentialOptions{.imds_endpoint = "nope"},
                                        clock);
  EXPECT_FALSE(bad_imds.ok());

  CloudEnvironment no_audience = kPublic;
  no_audience.token_audience.clear();
  EXPECT_FALSE(ArmCredential::create(http_client, ArmAuth{}, no_audience, {}, clock).ok());
}

}  // namespace
}  // namespace podid::controller::cloud
