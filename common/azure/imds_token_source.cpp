// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/imds_token_source.h"

#include "podid/azure/token_requests.h"
#include "podid/azure/token_response.h"
#include "podid/ascii.h"

namespace podid::azure {
namespace {
constexpr std::string_view kUpstream = "IMDS";
}

ImdsTokenSource::ImdsTokenSource(http::Client& client, http::Url imds_base, std::string client_id)
    : ImdsTokenSource(client, std::move(imds_base), std::move(client_id), system_wall_clock()) {}

ImdsTokenSource::ImdsTokenSource(http::Client& client, http::Url imds_base, std::string client_id,
                                 const WallClock& clock)
    : client_(client), base_(std::move(imds_base)), client_id_(std::move(client_id)), clock_(clock) {
  // Computed once: the cache asks for it on every request.
  if (client_id_.empty()) {
    key_ = "imds/system-assigned";
  } else {
    key_ = "imds/" + ascii::lowered(client_id_);
  }
}

boost::asio::awaitable<TokenOutcome> ImdsTokenSource::fetch(const std::string& resource, const FetchContext&) {
  http::Request req = imds_token_request(base_.target, resource, client_id_);
  http::Url url = base_.with_target(std::string(req.target()));
  auto res = co_await client_.send(url, std::move(req));
  auto now = clock_.now();
  if (!res) co_return transport_failure(res.error(), kUpstream);
  if (res->result() != http::Status::ok) co_return failure_from_response(*res, now, kUpstream);
  auto token = parse_token_answer(res->body(), {resource, client_id_, now});
  if (!token) co_return unusable_answer(token.error(), kUpstream);
  co_return std::move(token).value();
}

std::string ImdsTokenSource::cache_key() const { return key_; }

std::string ImdsTokenSource::describe() const {
  return client_id_.empty() ? "imds system-assigned" : "imds client_id=" + client_id_;
}

}  // namespace podid::azure
