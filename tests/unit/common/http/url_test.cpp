// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "podid/http/client.h"

namespace podid::http {
namespace {

struct UrlCase {
  const char* text;
  const char* scheme;
  const char* host;
  uint16_t port;
  const char* target;
  const char* host_header;
};

void PrintTo(const UrlCase& c, std::ostream* out) { *out << c.text; }

class UrlParse : public ::testing::TestWithParam<UrlCase> {};

TEST_P(UrlParse, SplitsIntoParts) {
  const UrlCase& c = GetParam();
  auto url = Url::parse(c.text);
  ASSERT_TRUE(url.ok()) << url.error().message();
  EXPECT_EQ(url->scheme, c.scheme);
  EXPECT_EQ(url->host, c.host);
  EXPECT_EQ(url->port, c.port);
  EXPECT_EQ(url->target, c.target);
  EXPECT_EQ(url->host_header(), c.host_header);
}

INSTANTIATE_TEST_SUITE_P(
    Valid, UrlParse,
    ::testing::Values(UrlCase{"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01", "http",
                              "169.254.169.254", 80, "/metadata/identity/oauth2/token?api-version=2018-02-01",
                              "169.254.169.254"},
                      UrlCase{"https://kubernetes.default.svc", "https", "kubernetes.default.svc", 443, "/",
                              "kubernetes.default.svc"},
                      UrlCase{"https://10.0.0.1:6443", "https", "10.0.0.1", 6443, "/", "10.0.0.1:6443"},
                      UrlCase{"HTTPS://h:443/x", "https", "h", 443, "/x", "h"},
                      UrlCase{"https://[fd00::1]:6443/api", "https", "fd00::1", 6443, "/api", "[fd00::1]:6443"},
                      UrlCase{"http://[::1]/", "http", "::1", 80, "/", "[::1]"},
                      UrlCase{"http://h?x=1", "http", "h", 80, "/?x=1", "h"},
                      UrlCase{"https://rancher.example/k8s/clusters/c-1", "https", "rancher.example", 443,
                              "/k8s/clusters/c-1", "rancher.example"}));

class UrlRefused : public ::testing::TestWithParam<const char*> {};

TEST_P(UrlRefused, IsEinvalNamingTheText) {
  auto url = Url::parse(GetParam());
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().code, std::errc::invalid_argument);
  EXPECT_NE(url.error().context.find(GetParam()), std::string::npos) << url.error().context;
}

INSTANTIATE_TEST_SUITE_P(Invalid, UrlRefused,
                         ::testing::Values("", "localhost:80", "ftp://h/", "http://", "http://:80/", "http://h:0/",
                                           "http://h:65536/", "http://h:8x/", "http://h:/", "http://user@h/",
                                           "http://h/#frag", "http://h/a b", "http://h/a\r\nX-Injected: 1",
                                           "http://[::1/", "http://[::1]x/"));

TEST(Url, WithTargetAndToString) {
  auto url = Url::parse("https://10.0.0.1:6443/prefix").value();
  EXPECT_EQ(url.with_target("/api/v1/pods").to_string(), "https://10.0.0.1:6443/api/v1/pods");
  EXPECT_EQ(url.with_target("healthz").target, "/healthz");
  EXPECT_EQ(url.with_target("").target, "/");
  EXPECT_EQ(Url::parse("http://h:80/x").value().to_string(), "http://h/x");
}

}  // namespace
}  // namespace podid::http
