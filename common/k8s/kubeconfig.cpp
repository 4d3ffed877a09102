// SPDX-License-Identifier: Apache-2.0
//
// kubeconfig files, the subset a node agent or a controller run outside a cluster needs: a server, its CA
// (or insecure-skip-tls-verify), a token, a token file or a client certificate. Anything that would make us
// connect differently from what the file asks (exec plugins, proxies, impersonation, basic auth) is refused
// by name rather than ignored.
#include <cctype>
#include <yaml-cpp/yaml.h>

#include "podid/encoding/base64.h"
#include "podid/k8s/cluster_config.h"
#include "podid/read_file.h"
#include "podid/error.h"
#include "kubeconfig.h"

namespace podid::k8s {
namespace {

class Reader {
 public:
  explicit Reader(const std::filesystem::path& file) : file_(file.string()), dir_(file.parent_path()) {}

  Error bad(const std::string& field, const std::string& why) const {
    return invalid_argument("kubeconfig " + file_ + ": " + field + ": " + why);
  }

  Error wrap(const Error& error, const std::string& field) const {
    return error.wrap("kubeconfig " + file_ + ": " + field);
  }

  // A string field; "" when absent or null.
  Result<std::string> string(const YAML::Node& map, const std::string& key, const std::string& where) const {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return std::string();
    if (!node.IsScalar()) return bad(where + "." + key, "not a string");
    return node.as<std::string>();
  }

  Result<bool> boolean(const YAML::Node& map, const std::string& key, const std::string& where) const {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return false;
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      return bad(where + "." + key, "not a boolean");
    }
    return value;
  }

  bool present(const YAML::Node& map, const std::string& key) const {
    const YAML::Node node = map[key];
    return node.IsDefined() && !node.IsNull();
  }

  // Relative paths in a kubeconfig are relative to the kubeconfig's own directory, as kubectl reads them.
  std::filesystem::path resolve(const std::string& path) const {
    std::filesystem::path p(path);
    return p.is_absolute() ? p : dir_ / p;
  }

  // The bytes of `<data_key>` (base64) or else of the file named by `<file_key>`; "" when neither is set.
  Result<std::string> data_or_file(const YAML::Node& map, const std::string& data_key, const std::string& file_key,
                                   const std::string& where, bool pem) const {
    auto data = string(map, data_key, where);
    if (!data) return data.error();
    if (!data->empty()) {
      // Hand-edited kubeconfigs wrap long values: whitespace is not part of the encoding.
      std::string compact;
      for (char c : *data) {
        if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
      }
      auto decoded = encoding::base64_decode(compact);
      if (!decoded) return bad(where + "." + data_key, "not valid base64");
      if (pem && decoded->find("-----BEGIN ") == std::string::npos) return bad(where + "." + data_key, "not PEM");
      return std::move(*decoded);
    }
    auto file = string(map, file_key, where);
    if (!file) return file.error();
    if (file->empty()) return std::string();
    auto content = read_file(resolve(*file));
    if (!content) return wrap(content.error(), where + "." + file_key);
    if (pem && content->find("-----BEGIN ") == std::string::npos) {
      return bad(where + "." + file_key, resolve(*file).string() + " does not hold PEM");
    }
    return content;
  }

  // The `key` mapping of the entry of `list` (clusters, contexts, users) whose name is `name`.
  Result<YAML::Node> named(const YAML::Node& root, const std::string& list, const std::string& key,
                           const std::string& name) const {
    const YAML::Node items = root[list];
    if (!items.IsDefined() || items.IsNull()) return bad(list, "missing (looking for \"" + name + "\")");
    if (!items.IsSequence()) return bad(list, "not a list");
    for (size_t i = 0; i < items.size(); ++i) {
      const YAML::Node item = items[i];
      std::string where = list + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) return bad(where, "not a mapping");
      auto item_name = string(item, "name", where);
      if (!item_name) return item_name.error();
      if (*item_name != name) continue;
      const YAML::Node body = item[key];
      // IsDefined first: asked anything else, a node for a missing key throws YAML::InvalidNode.
      if (!body.IsDefined() || !body.IsMap()) return bad(list + "[name=" + name + "]." + key, "missing or not a mapping");
      return body;
    }
    return bad(list, "no entry named \"" + name + "\"");
  }

 private:
  std::string file_;
  std::filesystem::path dir_;
};

Status read_cluster(const Reader& r, const YAML::Node& cluster, const std::string& where, ClusterConfig& out) {
  auto server = r.string(cluster, "server", where);
  if (!server) return server.error();
  if (server->empty()) return r.bad(where + ".server", "missing");
  auto url = http::Url::parse(*server);
  if (!url) return r.bad(where + ".server", url.error().context);
  out.server = std::move(url.value());

  if (r.present(cluster, "proxy-url")) return r.bad(where + ".proxy-url", "proxies are not supported");
  auto ca = r.data_or_file(cluster, "certificate-authority-data", "certificate-authority", where, true);
  if (!ca) return ca.error();
  auto insecure = r.boolean(cluster, "insecure-skip-tls-verify", where);
  if (!insecure) return insecure.error();
  if (*insecure && !ca->empty()) {
    // kubectl refuses the pair too: which one the user meant cannot be guessed.
    return r.bad(where + ".insecure-skip-tls-verify", "set together with a certificate authority");
  }
  auto server_name = r.string(cluster, "tls-server-name", where);
  if (!server_name) return server_name.error();
  out.tls.ca_pem = std::move(ca.value());
  out.tls.verify_peer = !*insecure;
  out.tls.server_name = std::move(server_name.value());
  return {};
}

Status read_user(const Reader& r, const YAML::Node& user, const std::string& where, ClusterConfig& out) {
  if (r.present(user, "exec")) return r.bad(where + ".exec", "exec credential plugins are not supported");
  if (r.present(user, "auth-provider")) {
    return r.bad(where + ".auth-provider", "auth-provider plugins are not supported");
  }
  for (const char* key : {"username", "password"}) {
    if (r.present(user, key)) return r.bad(where + "." + key, "basic authentication is not supported");
  }
  for (const char* key : {"as", "as-uid", "as-groups", "as-user-extra"}) {
    if (r.present(user, key)) return r.bad(where + "." + key, "impersonation is not supported");
  }

  auto token = r.string(user, "token", where);
  if (!token) return token.error();
  out.bearer_token = std::move(token.value());
  auto token_file = r.string(user, "tokenFile", where);
  if (!token_file) return token_file.error();
  if (!token_file->empty()) {
    out.token_file = r.resolve(*token_file);
    // Read once now so that a missing file refuses start-up instead of failing every request.
    auto content = read_file(out.token_file);
    if (!content) return r.wrap(content.error(), where + ".tokenFile");
  }

  auto cert = r.data_or_file(user, "client-certificate-data", "client-certificate", where, true);
  if (!cert) return cert.error();
  auto key = r.data_or_file(user, "client-key-data", "client-key", where, true);
  if (!key) return key.error();
  if (cert->empty() != key->empty()) {
    return r.bad(where,
                 cert->empty() ? "client key without a client certificate" : "client certificate without a client key");
  }
  out.tls.client_cert_pem = std::move(cert.value());
  out.tls.client_key_pem = std::move(key.value());
  return {};
}

}  // namespace

Result<ClusterConfig> kubeconfig_config(const std::filesystem::path& path, const std::string& context) {
  auto text = read_file(path);
  if (!text) return text.error().wrap("kubeconfig");
  return detail::parse_kubeconfig(*text, path, context);
}

namespace detail {

Result<ClusterConfig> parse_kubeconfig(std::string_view text, const std::filesystem::path& path,
                                       const std::string& context) {
  Reader r(path);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return r.bad("YAML", e.what());
  }
  if (!root.IsMap()) return r.bad("(top level)", "not a mapping");

  std::string context_name = context;
  if (context_name.empty()) {
    auto current = r.string(root, "current-context", "(top level)");
    if (!current) return current.error();
    if (current->empty()) return r.bad("current-context", "not set, and no context was named");
    context_name = std::move(current.value());
  }
  auto ctx = r.named(root, "contexts", "context", context_name);
  if (!ctx) return ctx.error();
  std::string ctx_where = "contexts[name=" + context_name + "].context";
  auto cluster_name = r.string(*ctx, "cluster", ctx_where);
  if (!cluster_name) return cluster_name.error();
  if (cluster_name->empty()) return r.bad(ctx_where + ".cluster", "missing");
  auto user_name = r.string(*ctx, "user", ctx_where);
  if (!user_name) return user_name.error();

  ClusterConfig config;
  auto cluster = r.named(root, "clusters", "cluster", *cluster_name);
  if (!cluster) return cluster.error();
  if (auto s = read_cluster(r, *cluster, "clusters[name=" + *cluster_name + "].cluster", config); !s) {
    return s.error();
  }
  // A context without a user is anonymous access (kubectl allows it; the API server decides).
  if (!user_name->empty()) {
    auto user = r.named(root, "users", "user", *user_name);
    if (!user) return user.error();
    if (auto s = read_user(r, *user, "users[name=" + *user_name + "].user", config); !s) return s.error();
  }
  return config;
}

}  // namespace detail
}  // namespace podid::k8s
