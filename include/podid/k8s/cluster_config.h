// SPDX-License-Identifier: Apache-2.0
//
// Where the Kubernetes API is and how to authenticate to it: in-cluster (service account) or a kubeconfig.
//
// Errors: Result. A missing file, a YAML error, an unknown context or a field of the wrong type is an error
// naming the file and the field; start-up turns it into a refusal to start.
#pragma once

#include <filesystem>
#include <string>

#include "podid/http/client.h"
#include "podid/result.h"

namespace podid::k8s {

struct ClusterConfig {
  http::Url server;           // https://host:port (a path prefix in server is kept in server.target)
  http::TlsSettings tls;      // CA from certificate-authority(-data) or the service account's ca.crt
  std::string bearer_token;   // a fixed token (kubeconfig `token`)
  // A token re-read when it changes (bound service-account tokens rotate, about hourly). Wins over
  // bearer_token when set.
  std::filesystem::path token_file;
};

// In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and <sa_dir>/{token,ca.crt}.
// sa_dir is a parameter so tests can point it at a temporary directory.
Result<ClusterConfig> in_cluster_config(
    const std::filesystem::path& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig file: the named context, or current-context when `context` is empty. Supports
// certificate-authority(-data), insecure-skip-tls-verify, token, tokenFile, client-certificate(-data),
// client-key(-data); relative file paths are relative to the kubeconfig's directory. exec/auth-provider
// plugins are refused with an error that says so.
Result<ClusterConfig> kubeconfig_config(const std::filesystem::path& path, const std::string& context = "");

}  // namespace podid::k8s
