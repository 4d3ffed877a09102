// SPDX-License-Identifier: Apache-2.0
// kubeconfig and in-cluster configuration: what is read from where, and an error naming the field for
// every kind of bad input.
#include "podid/k8s/cluster_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>

#include "temp_dir.h"

namespace podid::k8s {
namespace {

using podid::testing::TempDir;

const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const std::string kCertPem = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const std::string kKeyPem = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";

std::string b64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// A kubeconfig with one cluster "c", one user "u" and one context "ctx" joining them; `cluster` and `user`
// are the indented bodies of the two entries.
std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& current = "current-context: ctx\n") {
  return "apiVersion: v1\nkind: Config\n" + current + "clusters:\n- name: c\n  cluster:\n" + cluster +
         "contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n    namespace: default\n"
         "- name: other\n  context:\n    cluster: c\n"
         "users:\n- name: u\n  user:\n" +
         user;
}

const std::string kServer = "    server: https://127.0.0.1:6443\n";
const std::string kCaData = "    certificate-authority-data: " + b64(kCaPem) + "\n";
const std::string kToken = "    token: abc.def\n";

struct Good {
  const char* name;
  std::string yaml;
  std::string context;
  std::function<void(const ClusterConfig&, const TempDir&)> check;
};

// The case name is what ctest shows for each parameter (gtest_discover_tests prints values, not names).
void PrintTo(const Good& g, std::ostream* out) { *out << g.name; }

class KubeconfigGood : public ::testing::TestWithParam<Good> {};

TEST_P(KubeconfigGood, Parses) {
  const Good& g = GetParam();
  TempDir dir;
  dir.write("ca/ca.crt", kCaPem);
  dir.write("token", "from-file\n");
  dir.write("client/cert.pem", kCertPem);
  dir.write("client/key.pem", kKeyPem);
  auto path = dir.write("conf/kubeconfig", g.yaml);
  auto config = kubeconfig_config(path, g.context);
  ASSERT_TRUE(config.ok()) << config.error().message();
  g.check(config.value(), dir);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KubeconfigGood,
    ::testing::Values(
        Good{"token_and_ca_data", kubeconfig(kServer + kCaData, kToken), "",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_EQ(c.server.to_string(), "https://127.0.0.1:6443/");
               EXPECT_EQ(c.tls.ca_pem, kCaPem);
               EXPECT_TRUE(c.tls.verify_peer);
               EXPECT_EQ(c.bearer_token, "abc.def");
               EXPECT_TRUE(c.token_file.empty());
               EXPECT_TRUE(c.tls.client_cert_pem.empty());
             }},
        Good{"relative_paths_are_relative_to_the_kubeconfig",
             kubeconfig(kServer + "    certificate-authority: ../ca/ca.crt\n", "    tokenFile: ../token\n"), "",
             [](const ClusterConfig& c, const TempDir& dir) {
               EXPECT_EQ(c.tls.ca_pem, kCaPem);
               EXPECT_EQ(c.token_file, dir.path() / "conf/../token");
             }},
        Good{"client_certificate_data",
             kubeconfig(kServer + kCaData, "    client-certificate-data: " + b64(kCertPem) +
                                               "\n    client-key-data: " + b64(kKeyPem) + "\n"),
             "",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_EQ(c.tls.client_cert_pem, kCertPem);
               EXPECT_EQ(c.tls.client_key_pem, kKeyPem);
               EXPECT_TRUE(c.bearer_token.empty());
             }},
        Good{"client_certificate_files",
             kubeconfig(kServer + kCaData,
                        "    client-certificate: ../client/cert.pem\n    client-key: ../client/key.pem\n"),
             "",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_EQ(c.tls.client_cert_pem, kCertPem);
               EXPECT_EQ(c.tls.client_key_pem, kKeyPem);
             }},
        Good{"data_wins_over_file",
             kubeconfig(kServer + kCaData + "    certificate-authority: /nonexistent/ca.crt\n", kToken), "",
             [](const ClusterConfig& c, const TempDir&) { EXPECT_EQ(c.tls.ca_pem, kCaPem); }},
        Good{"insecure_skip_tls_verify", kubeconfig(kServer + "    insecure-skip-tls-verify: true\n", kToken), "",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_FALSE(c.tls.verify_peer);
               EXPECT_TRUE(c.tls.ca_pem.empty());
             }},
        Good{"tls_server_name", kubeconfig(kServer + kCaData + "    tls-server-name: kubernetes.default\n", kToken), "",
             [](const ClusterConfig& c, const TempDir&) { EXPECT_EQ(c.tls.server_name, "kubernetes.default"); }},
        Good{"server_path_prefix_is_kept",
             kubeconfig("    server: https://rancher.example/k8s/clusters/c-1\n" + kCaData, kToken), "",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_EQ(c.server.host, "rancher.example");
               EXPECT_EQ(c.server.port, 443);
               EXPECT_EQ(c.server.target, "/k8s/clusters/c-1");
             }},
        Good{"named_context_without_user", kubeconfig(kServer + kCaData, kToken), "other",
             [](const ClusterConfig& c, const TempDir&) {
               EXPECT_TRUE(c.bearer_token.empty());
               EXPECT_EQ(c.tls.ca_pem, kCaPem);
             }},
        Good{"flow_style_yaml",
             "{apiVersion: v1, current-context: x, clusters: [{name: c, cluster: {server: 'http://[::1]:8080'}}],"
             " contexts: [{name: x, context: {cluster: c, user: u}}], users: [{name: u, user: {token: t}}]}",
             "", [](const ClusterConfig& c, const TempDir&) {
               EXPECT_EQ(c.server.scheme, "http");
               EXPECT_EQ(c.server.host, "::1");
               EXPECT_EQ(c.bearer_token, "t");
             }}));

TEST(Kubeconfig, AbsolutePaths) {
  TempDir dir;
  auto ca = dir.write("ca.crt", kCaPem);
  auto token = dir.write("token", "t\n");
  auto path = dir.write("kubeconfig", kubeconfig(kServer + "    certificate-authority: " + ca.string() + "\n",
                                                 "    tokenFile: " + token.string() + "\n"));
  auto config = kubeconfig_config(path);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->tls.ca_pem, kCaPem);
  EXPECT_EQ(config->token_file, token);
}

struct Bad {
  const char* name;
  std::string yaml;
  std::string context;
  std::string expect;  // in the error's context
};

void PrintTo(const Bad& b, std::ostream* out) { *out << b.name; }

class KubeconfigBad : public ::testing::TestWithParam<Bad> {};

TEST_P(KubeconfigBad, IsRefusedNamingTheField) {
  const Bad& b = GetParam();
  TempDir dir;
  auto path = dir.write("kubeconfig", b.yaml);
  auto config = kubeconfig_config(path, b.context);
  ASSERT_FALSE(config.ok()) << b.name;
  EXPECT_NE(config.error().context.find(b.expect), std::string::npos) << config.error().message();
  EXPECT_NE(config.error().context.find(path.string()), std::string::npos) << config.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KubeconfigBad,
    ::testing::Values(
        Bad{"yaml_syntax", "clusters: [unclosed\n", "", "YAML"},
        Bad{"top_level_list", "- a\n- b\n", "", "(top level): not a mapping"},
        Bad{"no_current_context", kubeconfig(kServer, kToken, ""), "", "current-context: not set"},
        Bad{"unknown_context", kubeconfig(kServer, kToken), "nope", "contexts: no entry named \"nope\""},
        Bad{"contexts_not_a_list", "current-context: a\ncontexts: {a: b}\n", "", "contexts: not a list"},
        Bad{"no_clusters", "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n", "",
            "clusters: missing"},
        Bad{"missing_server", kubeconfig(kCaData, kToken), "", "clusters[name=c].cluster.server: missing"},
        Bad{"server_not_a_string", kubeconfig("    server: {a: 1}\n", kToken), "",
            "clusters[name=c].cluster.server: not a string"},
        Bad{"server_not_a_url", kubeconfig("    server: 10.0.0.1:6443\n", kToken), "",
            "clusters[name=c].cluster.server: invalid URL"},
        Bad{"ca_data_not_base64", kubeconfig(kServer + "    certificate-authority-data: '%%%'\n", kToken), "",
            "certificate-authority-data: not valid base64"},
        Bad{"ca_data_not_pem", kubeconfig(kServer + "    certificate-authority-data: " + b64("hello") + "\n", kToken),
            "", "certificate-authority-data: not PEM"},
        Bad{"ca_file_missing", kubeconfig(kServer + "    certificate-authority: missing-ca.crt\n", kToken), "",
            "clusters[name=c].cluster.certificate-authority"},
        Bad{"insecure_with_ca", kubeconfig(kServer + kCaData + "    insecure-skip-tls-verify: true\n", kToken), "",
            "insecure-skip-tls-verify: set together with a certificate authority"},
        Bad{"insecure_not_bool", kubeconfig(kServer + "    insecure-skip-tls-verify: maybe\n", kToken), "",
            "insecure-skip-tls-verify: not a boolean"},
        Bad{"proxy_url", kubeconfig(kServer + kCaData + "    proxy-url: http://proxy:3128\n", kToken), "",
            "proxy-url: proxies are not supported"},
        Bad{"exec_plugin",
            kubeconfig(kServer + kCaData,
                       "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                       "      command: kubelogin\n"),
            "", "users[name=u].user.exec: exec credential plugins are not supported"},
        Bad{"auth_provider", kubeconfig(kServer + kCaData, "    auth-provider:\n      name: azure\n"), "",
            "users[name=u].user.auth-provider"},
        Bad{"basic_auth", kubeconfig(kServer + kCaData, "    username: admin\n    password: secret\n"), "",
            "basic authentication is not supported"},
        Bad{"impersonation", kubeconfig(kServer + kCaData, kToken + "    as: system:admin\n"), "",
            "users[name=u].user.as: impersonation is not supported"},
        Bad{"cert_without_key", kubeconfig(kServer + kCaData, "    client-certificate-data: " + b64(kCertPem) + "\n"),
            "", "client certificate without a client key"},
        Bad{"token_file_missing", kubeconfig(kServer + kCaData, "    tokenFile: nope/token\n"), "",
            "users[name=u].user.tokenFile"},
        Bad{"token_not_a_string", kubeconfig(kServer + kCaData, "    token: [a, b]\n"), "",
            "users[name=u].user.token: not a string"},
        // Found by tests/fuzz (kubeconfig): an entry without its mapping threw YAML::InvalidNode.
        Bad{"cluster_entry_without_cluster",
            "current-context: x\nclusters:\n- name: c\n  clster: {server: https://a}\n"
            "contexts:\n- name: x\n  context: {cluster: c}\n",
            "", "clusters[name=c].cluster: missing or not a mapping"},
        Bad{"unknown_user",
            "current-context: x\nclusters:\n- name: c\n  cluster:\n" + kServer +
                "contexts:\n- name: x\n  context: {cluster: c, user: ghost}\nusers: []\n",
            "", "users: no entry named \"ghost\""}));

TEST(Kubeconfig, MissingFileIsEnoent) {
  auto config = kubeconfig_config("/nonexistent/podid/kubeconfig");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, std::errc::no_such_file_or_directory);
  EXPECT_NE(config.error().context.find("/nonexistent/podid/kubeconfig"), std::string::npos);
}

// In-cluster tests set the environment kubelet would; each restores it.
class InCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    save("KUBERNETES_SERVICE_HOST");
    save("KUBERNETES_SERVICE_PORT");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    dir_.write("ca.crt", kCaPem);
    dir_.write("token", "sa-token\n");
  }
  void TearDown() override {
    for (auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void save(const std::string& name) {
    const char* v = std::getenv(name.c_str());
    saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
  }

  TempDir dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(InCluster, ReadsTheServiceAccount) {
  auto config = in_cluster_config(dir_.path());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.to_string(), "https://10.96.0.1/");
  EXPECT_EQ(config->tls.ca_pem, kCaPem);
  EXPECT_TRUE(config->tls.verify_peer);
  EXPECT_EQ(config->token_file, dir_.path() / "token");
  EXPECT_TRUE(config->bearer_token.empty());
}

TEST_F(InCluster, BracketsAnIpv6ServiceAddress) {
  setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
  auto config = in_cluster_config(dir_.path());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.host, "fd00:10:96::1");
  EXPECT_EQ(config->server.to_string(), "https://[fd00:10:96::1]:6443/");
}

TEST_F(InCluster, RefusesWithoutTheEnvironment) {
  unsetenv("KUBERNETES_SERVICE_PORT");
  auto config = in_cluster_config(dir_.path());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().context.find("KUBERNETES_SERVICE_PORT"), std::string::npos);
}

TEST_F(InCluster, RefusesABadPort) {
  setenv("KUBERNETES_SERVICE_PORT", "https", 1);
  EXPECT_FALSE(in_cluster_config(dir_.path()).ok());
}

TEST_F(InCluster, RefusesWithoutCaOrToken) {
  TempDir empty;
  auto no_ca = in_cluster_config(empty.path());
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.error().code, std::errc::no_such_file_or_directory);
  EXPECT_NE(no_ca.error().context.find((empty.path() / "ca.crt").string()), std::string::npos);

  empty.write("ca.crt", kCaPem);
  auto no_token = in_cluster_config(empty.path());
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.error().context.find((empty.path() / "token").string()), std::string::npos);

  empty.write("token", " \n");
  auto blank = in_cluster_config(empty.path());
  ASSERT_FALSE(blank.ok());
  EXPECT_NE(blank.error().context.find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace podid::k8s
