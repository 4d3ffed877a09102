// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/token_request_client.h"

#include <boost/beast/http/verb.hpp>
#include <ctime>

#include "podid/azure/federated_errors.h"
#include "podid/error.h"
#include "podid/k8s/cluster_config.h"
#include "podid/log.h"

namespace podid::agent {
namespace {

namespace reason = azure::federated_reason;
constexpr std::chrono::seconds kUnavailableRetry{5};

azure::UpstreamFailure failure(unsigned status, std::string_view why, std::string detail, std::string explanation) {
  azure::UpstreamFailure f;
  f.status = status;
  f.reason = std::string(why);
  f.detail = std::move(detail);
  f.explanation = std::move(explanation);
  if (why == reason::kTokenRequestUnavailable) f.retry_after = kUnavailableRetry;
  return f;
}

std::string pod_name(const azure::FetchContext& pod) { return pod.pod_namespace + "/" + pod.pod_name; }

}  // namespace

KubeletCredential::KubeletCredential(boost::asio::any_io_executor executor, std::filesystem::path kubeconfig,
                                     std::string user_agent)
    : executor_(std::move(executor)), kubeconfig_(std::move(kubeconfig)), user_agent_(std::move(user_agent)) {}

Result<std::shared_ptr<k8s::ApiClient>> KubeletCredential::client() {
  // Read every time: TokenRequests are rare (a miss of both caches), the files are small, and kubelet may have
  // rotated its certificate (the kubeconfig names kubelet-client-current.pem, a symlink it moves).
  auto config = k8s::kubeconfig_config(kubeconfig_);
  if (!config) return config.error().wrap("the kubelet credential " + kubeconfig_.string());
  std::string fingerprint = config->server.to_string() + '\n' + config->tls.ca_pem + '\n' + config->tls.client_cert_pem +
                            '\n' + config->tls.client_key_pem + '\n' + config->bearer_token + '\n' +
                            config->token_file.string();
  if (!current_ || fingerprint != loaded_) {
    if (current_) log::info("kubelet credential changed; using the new one", {{"kubeconfig", kubeconfig_.string()}});
    // The old client may still be in a request: callers hold it by shared_ptr until they are done.
    current_ = std::make_shared<k8s::ApiClient>(executor_, std::move(*config), user_agent_);
    loaded_ = std::move(fingerprint);
  }
  return current_;
}

std::string KubeletCredential::describe() const { return "the kubelet credential in " + kubeconfig_.string(); }

ClientCredential::ClientCredential(k8s::ApiClient& api, std::string what)
    : api_(std::shared_ptr<k8s::ApiClient>(), &api), what_(std::move(what)) {}

Result<std::shared_ptr<k8s::ApiClient>> ClientCredential::client() { return api_; }

TokenRequestClient::TokenRequestClient(TokenRequestCredential& credential, TokenRequestSettings settings,
                                       const WallClock& clock)
    : credential_(credential), settings_(std::move(settings)), clock_(clock) {}

nlohmann::json token_request_body(const TokenRequestSettings& settings, const azure::FetchContext& pod) {
  return {{"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenRequest"},
          {"spec",
           {{"audiences", nlohmann::json::array({settings.audience})},
            {"expirationSeconds", settings.expiration.count()},
            {"boundObjectRef", {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod.pod_name}, {"uid", pod.pod_uid}}}}}};
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  std::string_view rest(end);
  if (!rest.empty() && rest.front() == '.') {  // fractional seconds: ignored
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z") return std::nullopt;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

boost::asio::awaitable<azure::TokenOutcome> TokenRequestClient::request(const azure::FetchContext& pod) {
  const std::string who = "service account " + pod.pod_namespace + "/" + pod.service_account + " of pod " + pod_name(pod);
  if (pod.pod_uid.empty() || pod.service_account.empty()) {
    co_return failure(0, reason::kPodGone, "TokenRequest: pod " + pod_name(pod) + " has no uid or service account",
                      "podid does not know pod " + pod_name(pod) + " well enough to ask for its token");
  }
  auto api = credential_.client();
  if (!api) {
    co_return failure(0, reason::kTokenRequestCredential, "TokenRequest: " + api.error().message(),
                      "podid-agent cannot read its credential for TokenRequest (" + api.error().message() +
                          "); see docs/troubleshooting.md#federated-identities");
  }
  std::shared_ptr<k8s::ApiClient> client = *api;  // kept alive until the answer is in
  std::string path = "/api/v1/namespaces/" + pod.pod_namespace + "/serviceaccounts/" + pod.service_account + "/token";
  nlohmann::json body = token_request_body(settings_, pod);
  auto res = co_await client->request(boost::beast::http::verb::post, path, std::move(body));
  if (!res) {
    co_return failure(0, reason::kTokenRequestUnavailable, "TokenRequest for " + who + ": " + res.error().message(),
                      "The Kubernetes API server could not be reached for a token of " + who + "; retry later");
  }
  const k8s::ApiResponse& answer = *res;
  const std::string status = "HTTP " + std::to_string(answer.status) + ": " + answer.message();
  if (answer.status == 404 || answer.status == 409) {
    co_return failure(answer.status, reason::kPodGone, "TokenRequest for " + who + ": " + status,
                      "Pod " + pod_name(pod) + " (uid " + pod.pod_uid + ") is gone or was re-created (" + status + ")");
  }
  if (answer.status == 429 || answer.status >= 500) {
    co_return failure(answer.status, reason::kTokenRequestUnavailable, "TokenRequest for " + who + ": " + status,
                      "The Kubernetes API server is busy or failing (" + status + "); retry later");
  }
  if (!answer.ok()) {
    co_return failure(answer.status, reason::kTokenRequestRefused, "TokenRequest for " + who + ": " + status,
                      "The Kubernetes API server refused podid-agent a token for " + who + " (" + status +
                          "). The agent asks with " + credential_.describe() +
                          "; see docs/security.md#federated-identities for what it needs");
  }
  const nlohmann::json& st = answer.body.is_object() ? answer.body.value("status", nlohmann::json::object())
                                                      : nlohmann::json::object();
  std::string token = st.is_object() ? st.value("token", std::string()) : std::string();
  auto expires = parse_rfc3339_utc(st.is_object() ? st.value("expirationTimestamp", std::string()) : std::string());
  auto now = clock_.now();
  if (token.empty() || !expires || *expires <= now) {
    co_return failure(0, reason::kTokenRequestUnavailable, "TokenRequest for " + who + ": answer without a usable token",
                      "The Kubernetes API server answered a TokenRequest without a usable token; retry later");
  }
  azure::AccessToken out;
  out.access_token = std::move(token);
  out.resource = settings_.audience;
  out.issued_at = now;
  out.not_before = now;
  out.expires_on = *expires;
  co_return out;
}

}  // namespace podid::agent
