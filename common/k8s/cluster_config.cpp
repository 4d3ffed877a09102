// SPDX-License-Identifier: Apache-2.0
//
// In-cluster configuration, as client-go's rest.InClusterConfig: the API server's Service address from the
// environment kubelet sets, the service account's CA and a token re-read as kubelet rotates it.
#include "podid/k8s/cluster_config.h"

#include <cstdlib>

#include "podid/read_file.h"
#include "podid/error.h"

namespace podid::k8s {

Result<ClusterConfig> in_cluster_config(const std::filesystem::path& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    return invalid_argument("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
                 "(not running in a pod?)");
  }
  std::string h = host;
  // An IPv6 Service address comes bare ("fd00::1"); a URL needs it in brackets.
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  auto server = http::Url::parse("https://" + h + ":" + port);
  if (!server) return server.error().wrap("in-cluster config: KUBERNETES_SERVICE_HOST/PORT");

  ClusterConfig config;
  config.server = std::move(server.value());
  auto ca = read_file(sa_dir / "ca.crt");
  if (!ca) return ca.error().wrap("in-cluster config");
  config.tls.ca_pem = std::move(ca.value());
  // Read once here so a missing token refuses start-up; ApiClient re-reads it whenever it changes.
  auto token = read_file(sa_dir / "token");
  if (!token) return token.error().wrap("in-cluster config");
  if (trim(token.value()).empty()) {
    return invalid_argument("in-cluster config: " + (sa_dir / "token").string() + " is empty");
  }
  config.token_file = sa_dir / "token";
  return config;
}

}  // namespace podid::k8s
