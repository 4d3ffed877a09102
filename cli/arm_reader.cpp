// SPDX-License-Identifier: Apache-2.0
#include "cli/arm_reader.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "cli/federated_checks.h"
#include "cli/permissions.h"
#include "controller/arm/arm_errors.h"
#include "controller/arm/resource_id.h"
#include "podid/log.h"

namespace podid::cli {
namespace asio = boost::asio;
namespace bh = boost::beast::http;

ArmReader::ArmReader(http::Client& client, const http::Url& endpoint, controller::arm::BearerSource bearer)
    : client_(client), endpoint_(endpoint), prefix_(endpoint.target), bearer_(std::move(bearer)) {
  if (auto q = prefix_.find('?'); q != std::string::npos) prefix_.resize(q);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

unsigned ArmReader::total_calls() const {
  unsigned n = 0;
  for (const auto& [op, count] : calls_) n += count;
  return n;
}

asio::awaitable<ArmAnswer> ArmReader::get(std::string path, std::string_view api_version, const char* operation) {
  ArmAnswer answer;
  auto token = co_await bearer_();
  if (!token) {
    answer.failure = "no ARM token: " + token.error().message();
    log::error("ARM request not sent", {{"op", operation}, {"resource", path}, {"error", answer.failure}});
    co_return answer;
  }
  http::Request request{bh::verb::get, "/", 11};
  request.set(bh::field::authorization, "Bearer " + *token);
  request.set(bh::field::accept, "application/json");
  ++calls_[operation];
  auto url = endpoint_.with_target(prefix_ + path + "?api-version=" + std::string(api_version));
  auto response = co_await client_.send(url, std::move(request));
  if (!response) {
    answer.failure = response.error().message();
    log::error("ARM request failed", {{"op", operation}, {"resource", path}, {"error", answer.failure}});
    co_return answer;
  }
  answer.status = response->result_int();
  answer.body = nlohmann::json::parse(response->body(), nullptr, /*allow_exceptions=*/false);
  if (answer.status < 200 || answer.status >= 300) {
    if (auto error = controller::arm::parse_arm_error(response->body())) {
      answer.error_code = error->code;
      answer.error_message = error->message;
    }
    log::error("ARM request refused", {{"op", operation}, {"resource", path}, {"status", answer.status},
                                       {"code", answer.error_code}});
  } else if (answer.body.is_discarded()) {
    answer.status = 0;
    answer.failure = "unreadable JSON in a " + std::to_string(response->result_int()) + " answer";
    log::error("ARM answer unreadable", {{"op", operation}, {"resource", path}});
  }
  co_return answer;
}

asio::awaitable<ArmFacts> read_arm_facts(ArmReader& reader, const ArmPlan& plan, unsigned concurrency) {
  ArmFacts facts;
  std::vector<std::function<asio::awaitable<void>()>> jobs;
  for (const auto& id : plan.identity_ids()) {
    jobs.push_back([&reader, &facts, id]() -> asio::awaitable<void> {
      ArmAnswer answer = co_await reader.get(id, kIdentityApiVersion, kGetIdentity);
      facts.identities[controller::arm::canonical_key(id)] = std::move(answer);
    });
  }
  for (const auto& scope : plan.scopes) {
    std::string s = scope.scope;
    jobs.push_back([&reader, &facts, s]() -> asio::awaitable<void> {
      ArmAnswer answer = co_await reader.get(s + "/providers/Microsoft.Authorization/permissions",
                                             kPermissionsApiVersion, kGetPermissions);
      facts.permissions[controller::arm::canonical_key(s)] = std::move(answer);
    });
  }
  for (const auto& id : plan.federated_ids) {
    jobs.push_back([&reader, &facts, id]() -> asio::awaitable<void> {
      ArmAnswer answer = co_await reader.get(federated_credentials_path(id), kFederatedCredentialsApiVersion,
                                             kListFederatedCredentials);
      facts.federated[controller::arm::canonical_key(id)] = std::move(answer);
    });
  }

  // `concurrency` workers take jobs in order; the last one to finish wakes this coroutine (a timer that never
  // expires, cancelled as the signal). Everything runs on this one thread: no locks.
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer done(executor, asio::steady_timer::time_point::max());
  size_t next = 0;
  unsigned running = std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(jobs.size())));
  if (jobs.empty()) co_return facts;
  for (unsigned w = running; w > 0; --w) {
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          while (next < jobs.size()) {
            auto& job = jobs[next++];
            co_await job();
          }
        },
        [&](std::exception_ptr e) {
          if (e) log::error("ARM worker failed", {{"error", "exception"}});
          if (--running == 0) done.cancel();
        });
  }
  co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return facts;
}

}  // namespace podid::cli
