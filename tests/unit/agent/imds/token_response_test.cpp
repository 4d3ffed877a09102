// SPDX-License-Identifier: Apache-2.0
// The 200 body: IMDS's keys in IMDS's order, every value a string, lifetimes counted from `now`.
#include "agent/imds/token_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imds_test_util.h"

namespace podid::agent::imds {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;
namespace bhttp = boost::beast::http;

system_clock::time_point at(long long epoch) { return system_clock::time_point{seconds{epoch}}; }

AccessToken fixed_token() {
  AccessToken t;
  t.access_token = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.c2ln";
  t.resource = "https://vault.azure.net";
  t.client_id = "be5947ed-3560-4afe-9504-59967a63f810";
  t.issued_at = at(1732443600);
  t.not_before = at(1732443300);
  t.expires_on = at(1732530000);  // issued + 86400
  t.ext_expires_in = seconds{86399};
  return t;
}

TEST(TokenResponse, ExactBytesForAFixedTokenAndTime) {
  // Served 100 s after the agent received it.
  EXPECT_EQ(token_response_body(fixed_token(), at(1732443700)),
            R"({"access_token":"eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.c2ln",)"
            R"("refresh_token":"","expires_in":"86300","expires_on":"1732530000","ext_expires_in":"86300",)"
            R"("not_before":"1732443300","resource":"https://vault.azure.net","token_type":"Bearer",)"
            R"("client_id":"be5947ed-3560-4afe-9504-59967a63f810"})");
}

TEST(TokenResponse, KeysInIMDSOrderAllStrings) {
  auto body = nlohmann::ordered_json::parse(token_response_body(fixed_token(), at(1732443700)));
  ASSERT_TRUE(body.is_object());
  std::vector<std::string> keys;
  for (auto& [key, value] : body.items()) {
    keys.push_back(key);
    EXPECT_TRUE(value.is_string()) << key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"access_token", "refresh_token", "expires_in", "expires_on",
                                            "ext_expires_in", "not_before", "resource", "token_type", "client_id"}));
}

TEST(TokenResponse, ExpiresInIsTheRemainingLifetimeNeverNegative) {
  AccessToken t = fixed_token();
  auto field = [](const std::string& body, const char* key) {
    return nlohmann::json::parse(body)[key].get<std::string>();
  };
  EXPECT_EQ(field(token_response_body(t, at(1732443600)), "expires_in"), "86400");
  EXPECT_EQ(field(token_response_body(t, at(1732529999)), "expires_in"), "1");
  EXPECT_EQ(field(token_response_body(t, at(1732530000)), "expires_in"), "0");
  EXPECT_EQ(field(token_response_body(t, at(1732540000)), "expires_in"), "0");
  // Sub-second times round down on both ends, so the lifetime never overstates.
  EXPECT_EQ(field(token_response_body(t, at(1732443600) + milliseconds{999}), "expires_in"), "86400");
  t.expires_on += milliseconds{500};
  EXPECT_EQ(field(token_response_body(t, at(1732443600)), "expires_on"), "1732530000");
}

TEST(TokenResponse, ExtExpiresIn) {
  AccessToken t = fixed_token();
  auto ext = [&](system_clock::time_point now) {
    return nlohmann::json::parse(token_response_body(t, now))["ext_expires_in"].get<std::string>();
  };
  // Unknown upstream value: the plain remaining lifetime (never an empty string: MSAL Go parses it).
  t.ext_expires_in = seconds{0};
  EXPECT_EQ(ext(at(1732443700)), "86300");
  // Entra's extended lifetime (longer than the token's) counts down from when the agent received it.
  t.ext_expires_in = seconds{2 * 86400};
  EXPECT_EQ(ext(at(1732443600)), "172800");
  EXPECT_EQ(ext(at(1732443700)), "172700");
  // ... and never says less than expires_in.
  t.ext_expires_in = seconds{10};
  EXPECT_EQ(ext(at(1732443700)), "86300");
  EXPECT_EQ(ext(at(1732540000)), "0");
}

TEST(TokenResponse, EscapesEveryStringField) {
  AccessToken t = fixed_token();
  t.access_token = "a\"b\\c";
  t.resource = "api://x";
  t.resource += '\x01';
  t.resource += "y\n\t\r\b\f";
  t.resource += '\x1f';
  t.resource += '\x7f';  // DEL needs no escape in JSON
  t.resource += "m\xC3\xBCller";
  t.client_id = "</script>";
  t.token_type = "";
  std::string body = token_response_body(t, at(1732443700));
  EXPECT_NE(body.find(R"("access_token":"a\"b\\c")"), std::string::npos) << body;
  EXPECT_NE(body.find("\"resource\":\"api://x\\u0001y\\n\\t\\r\\b\\f\\u001f\x7fm\xC3\xBCller\""), std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("token_type":"Bearer")"), std::string::npos);  // never empty
  auto parsed = nlohmann::json::parse(body);
  EXPECT_EQ(parsed["access_token"], "a\"b\\c");
  EXPECT_EQ(parsed["resource"], t.resource);
  EXPECT_EQ(parsed["client_id"], "</script>");
}

TEST(TokenResponse, AppendJsonEscapedCopiesCleanRunsVerbatim) {
  std::string out = "x";
  append_json_escaped(out, "");
  append_json_escaped(out, "plain");
  append_json_escaped(out, "\"");
  append_json_escaped(out, std::string_view("a\0z", 3));
  EXPECT_EQ(out, "xplain\\\"a\\u0000z");
}

TEST(TokenResponse, HttpFraming) {
  auto req = testing::get("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x");
  http::Response res = token_response(req, fixed_token(), at(1732443700));
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  EXPECT_EQ(res.body(), token_response_body(fixed_token(), at(1732443700)));
  EXPECT_TRUE(res.keep_alive());
  EXPECT_FALSE(token_response(testing::get("/", "Connection: close\r\n"), fixed_token(), at(0)).keep_alive());
}

}  // namespace
}  // namespace podid::agent::imds

// The escaper skips plain bytes 8 at a time: every position of a byte that needs escaping, in every 8-byte
// lane and across the tail, must still be escaped exactly as a JSON library does.
TEST(AppendJsonEscaped, MatchesAJsonLibraryAtEveryOffset) {
  const std::string specials[] = {"\"", "\\", std::string(1, '\0'), "\n", "\x1f", "\x7f", "\xc3\xa9"};
  for (const auto& special : specials) {
    for (size_t at = 0; at < 40; ++at) {
      std::string s(40, 'a');
      s.replace(at, 1, special);
      std::string out;
      podid::agent::imds::append_json_escaped(out, s);
      EXPECT_EQ('"' + out + '"', nlohmann::json(s).dump()) << "special " << int(special[0]) << " at " << at;
    }
  }
}
