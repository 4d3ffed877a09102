// SPDX-License-Identifier: Apache-2.0
// http::Client over HTTPS against a loopback server with certificates minted for the test: trust, names,
// SNI and client certificates, and the refusals that matter (wrong name, unknown CA).
#include <gtest/gtest.h>

#include "podid/http/client.h"
#include "run_until.h"
#include "script_server.h"
#include "test_pki.h"

namespace podid::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using podid::testing::chunk;
using podid::testing::chunked_head;
using podid::testing::http_response;
using podid::testing::kLastChunk;
using podid::testing::Reply;
using podid::testing::run_task;
using podid::testing::ScriptServer;
using podid::testing::server_tls;
using podid::testing::Step;
using podid::testing::TestCa;

Request get() { return Request{bhttp::verb::get, "/", 11}; }

Reply ok_reply(const Request&, size_t) { return Reply{{Step{http_response(200, "secure")}}}; }

// One CA and server certificate for the whole suite: minting keys is the slow part.
class HttpsClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCa();
    server_cert_ = new podid::testing::CertAndKey(ca_->issue("api", {"localhost", "api.podid.test"}, {"127.0.0.1"}));
  }
  static void TearDownTestSuite() {
    delete server_cert_;
    delete ca_;
  }

  ClientOptions trusting(std::string server_name = "") {
    ClientOptions o{.timeout = 5s};
    o.tls.ca_pem = ca_->ca().cert_pem;
    o.tls.server_name = std::move(server_name);
    return o;
  }

  Url url_of(const ScriptServer& server, std::string host = "127.0.0.1") {
    return Url::parse("https://" + host + ":" + std::to_string(server.port()) + "/").value();
  }

  static TestCa* ca_;
  static podid::testing::CertAndKey* server_cert_;
  asio::io_context io_;
};

TestCa* HttpsClient::ca_ = nullptr;
podid::testing::CertAndKey* HttpsClient::server_cert_ = nullptr;

TEST_F(HttpsClient, TrustsTheGivenCaAndChecksTheIpAddress) {
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_));
  Client client(io_.get_executor(), trusting());
  auto res = run_task(io_, client.send(url_of(server), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(res->body(), "secure");
  // RFC 6066: no SNI for an IP literal.
  EXPECT_EQ(server.server_names(), (std::vector<std::string>{""}));
}

TEST_F(HttpsClient, SendsSniForHostNames) {
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_));
  Client client(io_.get_executor(), trusting());
  auto res = run_task(io_, client.send(url_of(server, "localhost"), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(server.server_names(), (std::vector<std::string>{"localhost"}));
}

TEST_F(HttpsClient, ServerNameOverridesTheUrlHost) {
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_));
  Client client(io_.get_executor(), trusting("api.podid.test"));
  auto res = run_task(io_, client.send(url_of(server), get()));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(server.server_names(), (std::vector<std::string>{"api.podid.test"}));
}

TEST_F(HttpsClient, RefusesACertificateForAnotherName) {
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_));
  Client client(io_.get_executor(), trusting("evil.podid.test"));
  auto res = run_task(io_, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().context.find("hostname mismatch"), std::string::npos) << res.error().message();
  EXPECT_TRUE(server.requests().empty()) << "no request may be sent to an unverified server";
}

TEST_F(HttpsClient, RefusesACertificateForAnotherAddress) {
  auto other = ca_->issue("other", {"other.podid.test"}, {"10.1.2.3"});
  ScriptServer server(io_, ok_reply, server_tls(other));
  Client client(io_.get_executor(), trusting());
  auto res = run_task(io_, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().context.find("IP address mismatch"), std::string::npos) << res.error().message();
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpsClient, RefusesAnUnknownCaUnlessVerificationIsOff) {
  TestCa stranger("stranger CA");
  ScriptServer server(io_, ok_reply, server_tls(stranger.issue("api", {"localhost"}, {"127.0.0.1"})));
  {
    Client client(io_.get_executor(), trusting());
    auto res = run_task(io_, client.send(url_of(server), get()));
    ASSERT_FALSE(res.ok());
    EXPECT_NE(res.error().context.find("TLS handshake (unable to get local issuer certificate)"), std::string::npos)
        << res.error().message();
  }
  {
    ClientOptions insecure = trusting();
    insecure.tls.verify_peer = false;
    Client client(io_.get_executor(), insecure);
    auto res = run_task(io_, client.send(url_of(server), get()));
    ASSERT_TRUE(res.ok()) << res.error().message();
  }
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpsClient, SystemTrustStoreDoesNotTrustTheTestCa) {
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_));
  Client client(io_.get_executor(), ClientOptions{.timeout = 5s});  // ca_pem empty: the system's CAs
  auto res = run_task(io_, client.send(url_of(server), get()));
  ASSERT_FALSE(res.ok());
}

TEST_F(HttpsClient, PresentsAClientCertificate) {
  auto client_cert = ca_->issue("system:node:node-1", {}, {}, /*client=*/true);
  ScriptServer server(io_, ok_reply, server_tls(*server_cert_, ca_->ca().cert_pem));
  {
    ClientOptions o = trusting();
    o.tls.client_cert_pem = client_cert.cert_pem;
    o.tls.client_key_pem = client_cert.key_pem;
    Client client(io_.get_executor(), o);
    auto res = run_task(io_, client.send(url_of(server), get()));
    ASSERT_TRUE(res.ok()) << res.error().message();
  }
  {
    Client client(io_.get_executor(), trusting());
    auto res = run_task(io_, client.send(url_of(server), get()));
    EXPECT_FALSE(res.ok()) << "the server requires a client certificate";
  }
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpsClient, BadTlsSettingsFailEveryHttpsCallButNotHttp) {
  struct Case {
    const char* name;
    TlsSettings tls;
    const char* expect;
  };
  auto client_cert = ca_->issue("c", {}, {}, true);
  auto other_cert = ca_->issue("d", {}, {}, true);
  std::vector<Case> cases = {
      {"garbage CA", TlsSettings{.ca_pem = "not a certificate"}, "certificate authority PEM"},
      {"cert without key", TlsSettings{.ca_pem = ca_->ca().cert_pem, .client_cert_pem = client_cert.cert_pem},
       "needs both"},
      {"key of another cert",
       TlsSettings{
           .ca_pem = ca_->ca().cert_pem, .client_cert_pem = client_cert.cert_pem, .client_key_pem = other_cert.key_pem},
       "client key"},
  };
  ScriptServer https(io_, ok_reply, server_tls(*server_cert_));
  ScriptServer plain(io_, ok_reply);
  for (const Case& c : cases) {
    Client client(io_.get_executor(), ClientOptions{.timeout = 5s, .tls = c.tls});
    auto res = run_task(io_, client.send(url_of(https), get()));
    ASSERT_FALSE(res.ok()) << c.name;
    EXPECT_NE(res.error().context.find(c.expect), std::string::npos) << c.name << ": " << res.error().message();
    auto plain_res = run_task(io_, client.send(Url::parse(plain.url()).value(), get()));
    EXPECT_TRUE(plain_res.ok()) << c.name;
  }
  EXPECT_TRUE(https.requests().empty());
}

TEST_F(HttpsClient, StreamsLinesOverTls) {
  ScriptServer server(
      io_,
      [](const Request&, size_t) {
        return Reply{{Step{chunked_head() + chunk("{\"type\":\"ADDED\"}\n{\"ty")},
                      Step{chunk("pe\":\"DELETED\"}\n") + std::string(kLastChunk), 20ms}}};
      },
      server_tls(*server_cert_));
  Client client(io_.get_executor(), trusting());
  std::vector<std::string> lines;
  auto res = run_task(io_, client.stream_lines(url_of(server), get(), [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  }));
  ASSERT_TRUE(res.ok()) << res.error().message();
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"type\":\"ADDED\"}", "{\"type\":\"DELETED\"}"}));
}

}  // namespace
}  // namespace podid::http
