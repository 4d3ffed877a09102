// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/entra_token_source.h"

#include "podid/azure/token_requests.h"
#include "podid/azure/token_response.h"
#include "podid/error.h"

namespace podid::azure {
namespace {
constexpr std::string_view kUpstream = "Entra ID";
}

Result<std::shared_ptr<EntraTokenSource>> EntraTokenSource::with_secret(http::Client& client,
                                                                        EntraSourceOptions options,
                                                                        SecretGetter secret) {
  return make(client, std::move(options), Credential{std::in_place_index<0>, std::move(secret)}, system_wall_clock());
}

Result<std::shared_ptr<EntraTokenSource>> EntraTokenSource::with_secret(http::Client& client,
                                                                        EntraSourceOptions options, SecretGetter secret,
                                                                        const WallClock& clock) {
  return make(client, std::move(options), Credential{std::in_place_index<0>, std::move(secret)}, clock);
}

Result<std::shared_ptr<EntraTokenSource>> EntraTokenSource::with_certificate(http::Client& client,
                                                                             EntraSourceOptions options,
                                                                             CertificateGetter certificate) {
  return make(client, std::move(options), Credential{std::in_place_index<1>, std::move(certificate)},
              system_wall_clock());
}

Result<std::shared_ptr<EntraTokenSource>> EntraTokenSource::with_certificate(http::Client& client,
                                                                             EntraSourceOptions options,
                                                                             CertificateGetter certificate,
                                                                             const WallClock& clock) {
  return make(client, std::move(options), Credential{std::in_place_index<1>, std::move(certificate)}, clock);
}

Result<std::shared_ptr<EntraTokenSource>> EntraTokenSource::make(http::Client& client, EntraSourceOptions options,
                                                                 Credential credential, const WallClock& clock) {
  if (options.client_id.empty())
    return invalid_argument("Entra ID client id is empty");
  bool has_getter = std::visit([](const auto& g) { return static_cast<bool>(g); }, credential);
  if (!has_getter)
    return invalid_argument("Entra ID credential getter is empty");
  auto at = entra_endpoint(options.authority, options.tenant_id);
  if (!at) return at.error();
  return std::shared_ptr<EntraTokenSource>(new EntraTokenSource(client, std::move(options), std::move(at->url),
                                                                std::move(at->endpoint), std::move(credential), clock));
}

EntraTokenSource::EntraTokenSource(http::Client& client, EntraSourceOptions options, http::Url url,
                                   std::string endpoint, Credential credential, const WallClock& clock)
    : client_(client),
      options_(std::move(options)),
      url_(std::move(url)),
      endpoint_(std::move(endpoint)),
      credential_(std::move(credential)),
      clock_(clock) {}

boost::asio::awaitable<TokenOutcome> EntraTokenSource::fetch(const std::string& resource, const FetchContext&) {
  auto form = credential_form(resource);
  if (!form) {
    UpstreamFailure f;
    f.detail = describe() + ": no usable credential: " + form.error().message();
    co_return f;
  }
  auto res = co_await client_.send(url_, entra_token_request(url_.target, std::move(form).value()));
  auto now = clock_.now();
  if (!res) co_return transport_failure(res.error(), kUpstream);
  if (res->result() != http::Status::ok) co_return failure_from_response(*res, now, kUpstream);
  auto token = parse_token_answer(res->body(), {resource, options_.client_id, now});
  if (!token) co_return unusable_answer(token.error(), kUpstream);
  co_return std::move(token).value();
}

Result<std::string> EntraTokenSource::credential_form(const std::string& resource) {
  if (uses_secret()) {
    auto secret = std::get<0>(credential_)();
    if (!secret) return secret.error();
    if (secret->client_secret.empty()) {
      return invalid_argument("client secret is empty");
    }
    return entra_secret_form(options_.client_id, resource, secret->client_secret);
  }
  auto cert = std::get<1>(credential_)();
  if (!cert) return cert.error();
  auto key = certificate_key(*cert);
  if (!key) return key.error();
  auto assertion = make_client_assertion(*key, {options_.client_id, endpoint_, clock_.now(), random_uuid()});
  if (!assertion) return assertion.error();
  return entra_assertion_form(options_.client_id, resource, *assertion);
}

Result<CertificateKey> EntraTokenSource::certificate_key(const CertificateCredential& credential) {
  std::string fp = credential_fingerprint(credential);
  std::lock_guard lock(key_mutex_);
  if (loaded_key_ && loaded_key_->first == fp) return loaded_key_->second;
  auto key = CertificateKey::load_pkcs12(credential.pkcs12, credential.password);
  if (!key) return key.error();
  loaded_key_.emplace(std::move(fp), *key);
  return key;
}

std::string EntraTokenSource::cache_key() const {
  std::string fp = "unavailable";
  if (uses_secret()) {
    if (auto s = std::get<0>(credential_)()) fp = credential_fingerprint(*s);
  } else {
    if (auto c = std::get<1>(credential_)()) fp = credential_fingerprint(*c);
  }
  return std::string(uses_secret() ? "sp-secret/" : "sp-cert/") + url_.host_header() + "/" + options_.tenant_id + "/" +
         options_.client_id + "/" + fp;
}

std::string EntraTokenSource::describe() const {
  return std::string("entra ") + (uses_secret() ? "sp-secret" : "sp-cert") + " tenant=" + options_.tenant_id +
         " client_id=" + options_.client_id;
}

}  // namespace podid::azure
