// SPDX-License-Identifier: Apache-2.0
// Passthrough: only plain, allowed paths reach the real IMDS; nothing that could be its token endpoint does;
// nothing that looks forwarded is added; hop-by-hop headers stay on their hop.
#include "agent/imds/passthrough.h"

#include <gtest/gtest.h>

#include <string>

#include "imds_test_util.h"

namespace podid::agent::imds {
namespace {

namespace bhttp = boost::beast::http;
using testing::get;
using testing::parse_request;

const PassthroughPolicy kDefault{};
// Everything canonical allowed: what is still refused is refused by the path rules alone.
const PassthroughPolicy kAllowAll{.allowed_prefixes = {"/"}};

http::Request expect_relayed(const http::Request& req, const PassthroughPolicy& policy = kDefault) {
  auto out = prepare_passthrough(req, policy);
  if (auto* error = std::get_if<ImdsError>(&out)) {
    ADD_FAILURE() << "refused " << req.target() << " (" << error->reason << "): " << error->body;
    return {};
  }
  return std::get<http::Request>(out);
}

ImdsError expect_refused(const http::Request& req, const PassthroughPolicy& policy = kDefault) {
  auto out = prepare_passthrough(req, policy);
  if (std::holds_alternative<http::Request>(out)) {
    ADD_FAILURE() << "relayed " << req.target();
    return {};
  }
  return std::get<ImdsError>(out);
}

TEST(Passthrough, RelaysTheDefaultAllowList) {
  for (std::string target : {
           "/metadata/instance?api-version=2021-02-01",
           "/metadata/instance/compute/name?api-version=2021-02-01&format=text",
           "/metadata/instance/network/interface/0/ipv4/ipAddress/0/publicIpAddress?api-version=2017-08-01&format=text",
           "/metadata/instance/compute/tagsList?api-version=2021-02-01",
           "/metadata/instance/",
           "/Metadata/Instance?api-version=2021-02-01",
           "/metadata/versions",
           "/metadata/identity/info?api-version=2018-02-01",
           "/metadata/scheduledevents?api-version=2020-07-01",
           "/metadata/attested/document?api-version=2020-09-01&nonce=1234567890",
           "/metadata/loadbalancer?api-version=2020-10-01",
           // the query is IMDS's business; only the path decides
           "/metadata/instance?api-version=2021-02-01&x=%2F..%2Fidentity",
       }) {
    http::Request up = expect_relayed(get(target));
    EXPECT_EQ(up.target(), target);
    EXPECT_EQ(up.method(), bhttp::verb::get);
  }
}

struct Refusal {
  std::string target;
  http::Status status;
  std::string reason;
};

void PrintTo(const Refusal& r, std::ostream* os) { *os << r.target; }

class PassthroughRefuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(PassthroughRefuses, EvenWithEverythingAllowed) {
  // The path rules hold whatever the allow-list says.
  ImdsError e = expect_refused(get(GetParam().target), kAllowAll);
  EXPECT_EQ(e.status, GetParam().status);
  EXPECT_EQ(e.reason, GetParam().reason);
}

const std::string kMalformed = "malformed_token_path";
const std::string kNonCanonical = "passthrough_blocked:non_canonical_path";

INSTANTIATE_TEST_SUITE_P(
    PathTricks, PassthroughRefuses,
    ::testing::Values(
        // the token path and its look-alikes: 400, as the token endpoint answers them
        Refusal{"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x", http::Status::bad_request,
                kMalformed},
        Refusal{"/metadata/identity/oauth2/token/", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/instance/../identity/oauth2/token", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/identity/info/../oauth2/token", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/identity//oauth2/token", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/identity/oauth2/%74oken", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/identity%2Foauth2%2Ftoken", http::Status::bad_request, kMalformed},
        Refusal{"/metadata/Identity/OAuth2/Token", http::Status::bad_request, kMalformed},
        // anything not plain: 403 before any allow-list is consulted
        Refusal{"/metadata/instance/%2e%2e/identity/info", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance/%2E%2E%2Fidentity%2Finfo", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance/../versions", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/./instance", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance/.", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance.", http::Status::forbidden, kNonCanonical},
        Refusal{"//metadata/instance", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata//instance", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata\\instance", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance;x=1", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/%69nstance", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance~1", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance%00", http::Status::forbidden, kNonCanonical},
        Refusal{"/metadata/instance#x", http::Status::forbidden, kNonCanonical},
        Refusal{"http://169.254.169.254/metadata/instance", http::Status::forbidden, kNonCanonical},
        Refusal{"*", http::Status::forbidden, kNonCanonical}));

TEST(Passthrough, AllowListIsByWholeSegments) {
  for (std::string target : {"/metadata/instancex", "/metadata/versions2", "/metadata/identity",
                             "/metadata/identity/infos", "/metadata/identity/other", "/metadata", "/metadata/", "/",
                             "/metadata/foo", "/metadata/scheduledeventsx", "/podid/v1/whoami"}) {
    ImdsError e = expect_refused(get(target));
    EXPECT_EQ(e.status, http::Status::forbidden) << target;
    EXPECT_EQ(e.reason, "passthrough_blocked:path_not_allowed") << target;
    EXPECT_EQ(e.body, R"j({"error":"Request blocked by podid (path_not_allowed)"})j");
  }
  // A prefix written with a trailing slash means the same.
  PassthroughPolicy slash{.allowed_prefixes = {"/metadata/instance/"}};
  expect_relayed(get("/metadata/instance"), slash);
  expect_relayed(get("/metadata/instance/compute"), slash);
  EXPECT_EQ(expect_refused(get("/metadata/versions"), slash).reason, "passthrough_blocked:path_not_allowed");
}

TEST(Passthrough, DisabledAndBlockedInstanceMetadata) {
  EXPECT_EQ(expect_refused(get("/metadata/versions"), PassthroughPolicy{.enabled = false}).reason,
            "passthrough_blocked:passthrough_disabled");
  PassthroughPolicy block{.block_instance_metadata = true};
  for (std::string target :
       {"/metadata/instance", "/metadata/instance/compute?api-version=2021-02-01", "/METADATA/INSTANCE/network"}) {
    ImdsError e = expect_refused(get(target), block);
    EXPECT_EQ(e.status, http::Status::forbidden);
    EXPECT_EQ(e.reason, "passthrough_blocked:instance_metadata_blocked");
  }
  expect_relayed(get("/metadata/versions"), block);
  expect_relayed(get("/metadata/attested/document?api-version=2020-09-01"), block);
}

TEST(Passthrough, HeaderRulesAsForTheTokenEndpoint) {
  ImdsError missing = expect_refused(get("/metadata/instance?api-version=2021-02-01", "", ""));
  EXPECT_EQ(missing.status, http::Status::bad_request);
  EXPECT_EQ(missing.body.size(), 88u);
  EXPECT_EQ(expect_refused(get("/metadata/versions", "", "Metadata: True\r\n")).reason, "missing_metadata_header");
  EXPECT_EQ(expect_refused(get("/metadata/instance", "X-Forwarded-For: 10.0.0.1\r\n")).reason, "x_forwarded_for");
}

TEST(Passthrough, MethodsGetAndPostOnly) {
  auto post = parse_request(
      "POST /metadata/scheduledevents?api-version=2020-07-01 HTTP/1.1\r\nMetadata: true\r\n"
      "Content-Type: application/json\r\nContent-Length: 39\r\n\r\n{\"StartRequests\":[{\"EventId\":\"abc-1\"}]}");
  http::Request up = expect_relayed(post);
  EXPECT_EQ(up.method(), bhttp::verb::post);
  EXPECT_EQ(up.body(), R"({"StartRequests":[{"EventId":"abc-1"}]})");
  EXPECT_EQ(up[bhttp::field::content_length], "39");
  EXPECT_EQ(up[bhttp::field::content_type], "application/json");

  for (std::string verb : {"PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"}) {
    auto req = parse_request(verb + " /metadata/instance HTTP/1.1\r\nMetadata: true\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(expect_refused(req).reason, "passthrough_blocked:method_not_allowed") << verb;
  }
}

TEST(Passthrough, ChunkedBodyIsRelayedWithALength) {
  auto post = parse_request(
      "POST /metadata/scheduledevents?api-version=2020-07-01 HTTP/1.1\r\nMetadata: true\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  http::Request up = expect_relayed(post);
  EXPECT_EQ(up.body(), "abcde");
  EXPECT_EQ(up.count(bhttp::field::transfer_encoding), 0u);
  EXPECT_EQ(up[bhttp::field::content_length], "5");
}

TEST(Passthrough, CopiesEndToEndHeadersOnly) {
  auto req = parse_request(
      "GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\n"
      "Host: 169.254.169.254\r\n"
      "metadata: true\r\n"
      "User-Agent: curl/7.88.1\r\n"
      "Accept: application/json\r\n"
      "Accept-Encoding: gzip\r\n"
      "X-Custom: 1\r\n"
      "X-Custom: 2\r\n"
      "Connection: keep-alive, X-Secret-Hop\r\n"
      "X-Secret-Hop: drop me\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Authorization: Basic eA==\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Trailer: X-T\r\n"
      "Upgrade: h2c\r\n"
      "Expect: 100-continue\r\n"
      "Forwarded: for=10.0.0.1\r\n"
      "Via: 1.1 proxy\r\n"
      "X-Forwarded-Host: evil\r\n"
      "X-Forwarded-Proto: http\r\n"
      "X-Real-IP: 10.0.0.1\r\n"
      "\r\n");
  http::Request up = expect_relayed(req);
  EXPECT_EQ(up.version(), 11u);
  EXPECT_EQ(up.target(), "/metadata/instance?api-version=2021-02-01");
  EXPECT_EQ(up["Metadata"], "true");
  EXPECT_EQ(up[bhttp::field::user_agent], "curl/7.88.1");
  EXPECT_EQ(up[bhttp::field::accept], "application/json");
  EXPECT_EQ(up[bhttp::field::accept_encoding], "gzip");
  EXPECT_EQ(up.count("X-Custom"), 2u);
  for (const char* dropped : {"Connection", "X-Secret-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection",
                              "TE", "Trailer", "Upgrade", "Expect", "Forwarded", "Via", "X-Forwarded-Host",
                              "X-Forwarded-Proto", "X-Real-IP", "Host", "Content-Length", "X-Forwarded-For"}) {
    EXPECT_EQ(up.count(dropped), 0u) << dropped;
  }
}

// Found by tests/fuzz (imds_token_request): Connection is a list field, and only its first line was read, so a
// field named on a second line was relayed as if end-to-end.
TEST(Passthrough, EveryConnectionLineNamesHopByHopFields) {
  auto req = parse_request(
      "GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\n"
      "Host: 169.254.169.254\r\n"
      "Metadata: true\r\n"
      "Connection: keep-alive\r\n"
      "Connection: X-Secret-Hop\r\n"
      "X-Secret-Hop: drop me\r\n"
      "X-Kept: 1\r\n"
      "\r\n");
  http::Request up = expect_relayed(req);
  EXPECT_EQ(up.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(up["X-Kept"], "1");
}

// ---- the answer back to the pod ------------------------------------------------------------------------------

http::Response upstream_answer(unsigned status, std::string body) {
  http::Response res;
  res.version(11);
  res.result(status);
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.set(bhttp::field::server, "IMDS/150.870.65.1854");
  res.set("X-Ms-Request-Id", "abc");
  res.set(bhttp::field::connection, "close, X-Hop");
  res.set("X-Hop", "1");
  res.set(bhttp::field::keep_alive, "timeout=5");
  res.set(bhttp::field::transfer_encoding, "chunked");
  res.set(bhttp::field::content_length, "999");
  res.body() = std::move(body);
  return res;
}

TEST(RelayResponse, CopiesStatusHeadersAndBodyMinusHopByHop) {
  auto pod = get("/metadata/instance?api-version=2021-02-01");
  http::Response out = relay_response(upstream_answer(200, R"({"compute":{}})"), pod);
  EXPECT_EQ(out.result_int(), 200u);
  EXPECT_EQ(out.body(), R"({"compute":{}})");
  EXPECT_EQ(out[bhttp::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(out[bhttp::field::server], "IMDS/150.870.65.1854");  // IMDS answered; it says so
  EXPECT_EQ(out["X-Ms-Request-Id"], "abc");
  EXPECT_EQ(out[bhttp::field::content_length], "14");
  EXPECT_EQ(out.count(bhttp::field::transfer_encoding), 0u);
  EXPECT_EQ(out.count("X-Hop"), 0u);
  EXPECT_EQ(out.count(bhttp::field::keep_alive), 0u);
  // The pod's connection decides, not IMDS's.
  EXPECT_TRUE(out.keep_alive());
  EXPECT_EQ(out.version(), 11u);
}

TEST(RelayResponse, EveryConnectionLineNamesHopByHopFields) {
  http::Response upstream = upstream_answer(200, "{}");
  upstream.insert(bhttp::field::connection, "X-Second-Hop");
  upstream.set("X-Second-Hop", "1");
  http::Response out = relay_response(upstream, get("/metadata/instance?api-version=2021-02-01"));
  EXPECT_EQ(out.count("X-Second-Hop"), 0u);
  EXPECT_EQ(out.count("X-Hop"), 0u);
  EXPECT_EQ(out["X-Ms-Request-Id"], "abc");
}

TEST(RelayResponse, PodVersionAndKeepAlive) {
  auto http10 = parse_request("GET /metadata/versions HTTP/1.0\r\nMetadata: true\r\n\r\n");
  http::Response out = relay_response(upstream_answer(200, "{}"), http10);
  EXPECT_EQ(out.version(), 10u);
  EXPECT_FALSE(out.keep_alive());
  EXPECT_FALSE(
      relay_response(upstream_answer(200, "{}"), get("/metadata/versions", "Connection: close\r\n")).keep_alive());
}

TEST(RelayResponse, ErrorsAndOddStatuses) {
  auto pod = get("/metadata/instance/compute/nope?api-version=2021-02-01");
  http::Response not_found = relay_response(upstream_answer(404, R"({"error":"Not found"})"), pod);
  EXPECT_EQ(not_found.result(), http::Status::not_found);
  EXPECT_EQ(not_found.body(), R"({"error":"Not found"})");
  http::Response odd = relay_response(upstream_answer(599, "x"), pod);
  EXPECT_EQ(odd.result_int(), 599u);
  http::Response empty = relay_response(upstream_answer(204, "ignored"), pod);
  EXPECT_EQ(empty.result(), http::Status::no_content);
  EXPECT_TRUE(empty.body().empty());
  EXPECT_EQ(empty.count(bhttp::field::content_length), 0u);
}

}  // namespace
}  // namespace podid::agent::imds
