// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/federated_token_source.h"

#include "podid/ascii.h"
#include "podid/azure/jwt_claims.h"
#include "podid/azure/token_requests.h"
#include "podid/azure/token_response.h"
#include "podid/error.h"

namespace podid::azure {
namespace {

constexpr std::string_view kUpstream = "Entra ID";

// Expired, not yet valid or badly signed: a fresh assertion may pass where the cached one did not.
bool worth_a_fresh_assertion(const UpstreamFailure& f) { return f.reason == federated_reason::kAssertionRejected; }

}  // namespace

Result<std::shared_ptr<FederatedTokenSource>> FederatedTokenSource::make(http::Client& client,
                                                                         FederatedSourceOptions options,
                                                                         AssertionProvider& provider,
                                                                         const WallClock& clock) {
  if (options.client_id.empty()) return invalid_argument("federated identity: client id is empty");
  if (options.subject.empty()) return invalid_argument("federated identity: subject is empty");
  auto at = entra_endpoint(options.authority, options.tenant_id);
  if (!at) return at.error();
  return std::shared_ptr<FederatedTokenSource>(new FederatedTokenSource(client, std::move(options), std::move(at->url),
                                                                        std::move(at->endpoint), provider, clock));
}

FederatedTokenSource::FederatedTokenSource(http::Client& client, FederatedSourceOptions options, http::Url url,
                                           std::string endpoint, AssertionProvider& provider,
                                           const WallClock& clock)
    : client_(client),
      options_(std::move(options)),
      url_(std::move(url)),
      endpoint_(std::move(endpoint)),
      provider_(provider),
      clock_(clock) {
  key_ = "federated/" + url_.host_header() + "/" + options_.tenant_id + "/" + ascii::lowered(options_.client_id) +
         "/" + options_.subject;
}

boost::asio::awaitable<TokenOutcome> FederatedTokenSource::fetch(const std::string& resource,
                                                                 const FetchContext& context) {
  TokenOutcome assertion = co_await provider_.assertion(context, /*fresh=*/false);
  if (auto* failure = std::get_if<UpstreamFailure>(&assertion)) co_return std::move(*failure);
  std::string jwt = std::get<AccessToken>(assertion).access_token;
  TokenOutcome outcome = co_await exchange(resource, jwt);
  auto* failure = std::get_if<UpstreamFailure>(&outcome);
  if (failure == nullptr || !worth_a_fresh_assertion(*failure)) co_return outcome;

  TokenOutcome again = co_await provider_.assertion(context, /*fresh=*/true);
  if (auto* refused = std::get_if<UpstreamFailure>(&again)) co_return std::move(*refused);
  std::string fresh_jwt = std::get<AccessToken>(again).access_token;
  co_return co_await exchange(resource, fresh_jwt);
}

boost::asio::awaitable<TokenOutcome> FederatedTokenSource::exchange(const std::string& resource,
                                                                    const std::string& assertion) {
  http::Request req = entra_token_request(url_.target, entra_assertion_form(options_.client_id, resource, assertion));
  auto res = co_await client_.send(url_, std::move(req));
  auto now = clock_.now();
  if (!res) co_return transport_failure(res.error(), kUpstream);
  if (res->result() != http::Status::ok) {
    FederatedFacts facts{.issuer = unverified_jwt_claim(assertion, "iss").value_or(""),
                         .subject = options_.subject,
                         .audience = provider_.audience(),
                         .client_id = options_.client_id,
                         .tenant_id = options_.tenant_id,
                         .identity_resource_id = options_.identity_resource_id,
                         .app_registration = options_.app_registration,
                         .origin = options_.origin};
    co_return explain_exchange_failure(failure_from_response(*res, now, kUpstream), facts);
  }
  auto token = parse_token_answer(res->body(), {resource, options_.client_id, now});
  if (!token) co_return unusable_answer(token.error(), kUpstream);
  co_return std::move(token).value();
}

std::string FederatedTokenSource::cache_key() const { return key_; }

std::string FederatedTokenSource::describe() const {
  return "entra federated tenant=" + options_.tenant_id + " client_id=" + options_.client_id +
         " subject=" + options_.subject;
}

}  // namespace podid::azure
