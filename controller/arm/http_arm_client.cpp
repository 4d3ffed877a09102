// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/http_arm_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "podid/ascii.h"
#include "podid/azure/retry_after.h"
#include "podid/log.h"

namespace podid::controller::arm {
namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using nlohmann::json;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kPollOperation = "GET operation";
constexpr size_t kBodySummaryBytes = 200;

const char* get_operation(const ResourceId& id) { return id.kind == ResourceKind::kScaleSet ? "GET vmss" : "GET vm"; }
const char* patch_operation(const ResourceId& id) {
  return id.kind == ResourceKind::kScaleSet ? "PATCH vmss" : "PATCH vm";
}

bool success(unsigned status) { return status >= 200 && status < 300; }
// Worth polling again: ARM is busy (throttled, or a front end that failed), not refusing.
bool transient(unsigned status) { return status == 429 || status >= 500; }

bool terminal(std::string_view state) {
  return ascii::iequals(state, "Succeeded") || ascii::iequals(state, "Failed") || ascii::iequals(state, "Canceled");
}
bool failed(std::string_view state) { return ascii::iequals(state, "Failed") || ascii::iequals(state, "Canceled"); }

std::string summary(std::string_view body) {
  std::string out(body.substr(0, kBodySummaryBytes));
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return body.size() > kBodySummaryBytes ? out + "..." : out;
}

std::string header(const http::Response& res, std::string_view name) {
  auto it = res.find(name);
  return it == res.end() ? std::string() : std::string(it->value());
}

http::Request make_request(bh::verb verb, std::string body = {}) {
  http::Request req{verb, "/", 11};
  req.set(bh::field::accept, "application/json");
  if (!body.empty()) {
    req.set(bh::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  return req;
}

// The bearer token goes only where the resource manager is.
bool same_origin(const http::Url& a, const http::Url& b) {
  return a.scheme == b.scheme && ascii::iequals(a.host, b.host) && a.port == b.port;
}

// properties.provisioningState of a compute resource; absent means Succeeded (go-autorest).
std::string provisioning_state(const json& resource) {
  auto props = resource.find("properties");
  if (props == resource.end() || !props->is_object()) return "Succeeded";
  auto state = props->find("provisioningState");
  return state != props->end() && state->is_string() ? state->get<std::string>() : "Succeeded";
}

// The error of an operation that ended `state`: its `error` object, or one naming the state when it has none.
ArmError operation_error(const json& body, const std::string& state) {
  if (auto it = body.find("error"); it != body.end() && it->is_object()) {
    if (auto parsed = parse_arm_error(it->dump()); parsed.ok()) return std::move(parsed).value();
  }
  ArmError e;
  e.code = state;
  e.message = "The operation ended " + state + " without an error object.";
  return e;
}

asio::awaitable<void> sleep_for(milliseconds delay) {
  if (delay <= milliseconds::zero()) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

const WallClock& system_clock() {
  static const SystemWallClock clock;
  return clock;
}

milliseconds left_until(SteadyTime deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
}

}  // namespace

// What one request brought back. `response` is empty when nothing was sent or nothing came back; the outcome's
// detail then says why.
struct HttpArmClient::Exchange {
  std::optional<http::Response> response;
  std::optional<ArmError> error;  // the parsed envelope of a non-2xx answer
};

HttpArmClient::HttpArmClient(http::Client& client, HttpArmClientOptions options, prometheus::Registry& registry)
    : HttpArmClient(client, std::move(options), registry, system_clock()) {}

HttpArmClient::HttpArmClient(http::Client& client, HttpArmClientOptions options, prometheus::Registry& registry,
                             const WallClock& clock)
    : client_(client),
      options_(std::move(options)),
      clock_(clock),
      metrics_{
          prometheus::BuildCounter()
              .Name("podid_controller_arm_requests_total")
              .Help("ARM requests by operation and HTTP status (code \"error\": no answer; \"no_token\": not sent, "
                    "no ARM token)")
              .Register(registry),
          prometheus::BuildHistogram()
              .Name("podid_controller_arm_request_duration_seconds")
              .Help("Duration of one ARM request, by operation")
              .Register(registry),
          prometheus::BuildCounter()
              .Name("podid_controller_arm_errors_total")
              .Help("ARM error codes received, from error answers and from operations that ended Failed/Canceled")
              .Register(registry),
          prometheus::BuildCounter()
              .Name("podid_controller_arm_throttled_total")
              .Help("ARM answers 429 (throttled), by operation")
              .Register(registry),
      } {
  if (!options_.bearer) throw std::invalid_argument("HttpArmClient: no bearer source");
  prefix_ = options_.endpoint.target;
  if (auto q = prefix_.find('?'); q != std::string::npos) prefix_.resize(q);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

http::Url HttpArmClient::resource_url(const ResourceId& compute) const {
  return options_.endpoint.with_target(prefix_ + compute.id() + "?api-version=" + options_.api_version);
}

void HttpArmClient::record(const char* operation, const std::string& code_label,
                           std::chrono::duration<double> elapsed) {
  metrics_.requests.Add({{"operation", operation}, {"code", code_label}}).Increment();
  metrics_.duration
      .Add({{"operation", operation}}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
      .Observe(elapsed.count());
}

std::chrono::milliseconds HttpArmClient::poll_delay(const http::Response& response) const {
  auto value = header(response, "Retry-After");
  if (value.empty()) return options_.poll_interval;
  auto asked = azure::parse_retry_after(value, clock_.now());
  if (!asked) return options_.poll_interval;
  return std::min<milliseconds>(*asked, options_.max_poll_delay);
}

asio::awaitable<HttpArmClient::Exchange> HttpArmClient::exchange(const char* operation, const std::string& resource_id,
                                                                 const http::Url& url, http::Request request,
                                                                 ArmOutcome& outcome) {
  Exchange out;
  auto token = co_await options_.bearer();
  if (!token) {
    outcome.status = 0;
    outcome.detail = "no ARM token: " + token.error().message();
    metrics_.requests.Add({{"operation", operation}, {"code", "no_token"}}).Increment();
    log::warn("ARM request not sent", {{"op", operation}, {"resource", resource_id}, {"error", outcome.detail}});
    co_return out;
  }
  request.set(bh::field::authorization, "Bearer " + *token);

  const auto start = std::chrono::steady_clock::now();
  auto res = co_await client_.send(url, std::move(request));
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  const auto duration_ms = std::chrono::duration_cast<milliseconds>(elapsed).count();
  ++outcome.calls;

  if (!res) {
    outcome.status = 0;
    outcome.detail = res.error().message();
    record(operation, "error", elapsed);
    log::warn("ARM request", {{"op", operation},
                              {"resource", resource_id},
                              {"status", 0},
                              {"duration_ms", duration_ms},
                              {"error", outcome.detail}});
    co_return out;
  }

  const unsigned status = res->result_int();
  const std::string request_id = header(*res, "x-ms-request-id");
  outcome.status = status;
  if (outcome.request_id.empty()) outcome.request_id = request_id;
  record(operation, std::to_string(status), elapsed);
  if (status == 429) metrics_.throttled.Add({{"operation", operation}}).Increment();

  std::string error_code;
  if (!success(status)) {
    if (auto parsed = parse_arm_error(res->body()); parsed.ok()) {
      error_code = parsed->code;
      metrics_.errors.Add({{"code", error_code}}).Increment();
      out.error = std::move(parsed).value();
    }
  }
  log::write(success(status) ? log::Level::kInfo : log::Level::kWarn, "ARM request",
             {{"op", operation},
              {"resource", resource_id},
              {"status", status},
              {"request_id", request_id},
              {"duration_ms", duration_ms},
              {"error_code", error_code}});
  out.response = std::move(res).value();
  co_return out;
}

namespace {

// A non-2xx answer as the outcome reports it: the envelope, or the body's start when there is none, and the
// delay a 429/503 asked for.
void set_failure(ArmOutcome& outcome, const http::Response& res, std::optional<ArmError> error,
                 std::chrono::system_clock::time_point now) {
  const unsigned status = res.result_int();
  if (error) {
    outcome.error = std::move(error);
  } else {
    outcome.detail = "ARM answered " + std::to_string(status) + " without an error envelope: " + summary(res.body());
  }
  if (status == 429 || status == 503) {
    auto value = header(res, "Retry-After");
    if (!value.empty()) outcome.retry_after = azure::parse_retry_after(value, now);
  }
}

// A 2xx body that must be a JSON object (the resource, an operation's status).
std::optional<json> json_object(const http::Response& res, ArmOutcome& outcome, std::string_view what) {
  json j = json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    outcome.detail = std::string(what) + " is not a JSON object: " + summary(res.body());
    return std::nullopt;
  }
  return j;
}

}  // namespace

asio::awaitable<ArmOutcome> HttpArmClient::get(const ResourceId& compute) {
  ArmOutcome outcome;
  if (compute.kind == ResourceKind::kUserAssignedIdentity) {
    outcome.detail = "not a scale set or VM: " + compute.id();
    co_return outcome;
  }
  auto ex = co_await exchange(get_operation(compute), compute.id(), resource_url(compute), make_request(bh::verb::get),
                              outcome);
  if (!ex.response) co_return outcome;
  if (!success(ex.response->result_int())) {
    set_failure(outcome, *ex.response, std::move(ex.error), clock_.now());
    co_return outcome;
  }
  if (auto resource = json_object(*ex.response, outcome, "ARM resource")) outcome.resource = std::move(*resource);
  co_return outcome;
}

asio::awaitable<ArmOutcome> HttpArmClient::patch(const ResourceId& compute, const nlohmann::json& body) {
  ArmOutcome outcome;
  if (compute.kind == ResourceKind::kUserAssignedIdentity) {
    outcome.detail = "not a scale set or VM: " + compute.id();
    co_return outcome;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.operation_timeout;
  auto ex = co_await exchange(patch_operation(compute), compute.id(), resource_url(compute),
                              make_request(bh::verb::patch, body.dump()), outcome);
  if (!ex.response) co_return outcome;
  const http::Response& answer = *ex.response;
  if (!success(answer.result_int())) {
    set_failure(outcome, answer, std::move(ex.error), clock_.now());
    co_return outcome;
  }

  // The model ARM accepted: a 200 to PATCH carries the whole resource with the identity block that will be in
  // force once the operation succeeds (provisioningState Updating meanwhile).
  std::optional<json> accepted;
  if (!answer.body().empty()) {
    json j = json::parse(answer.body(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object() && j.contains("identity")) accepted = std::move(j);
  }
  if (auto async_url = header(answer, "Azure-AsyncOperation"); !async_url.empty()) {
    co_await wait_for_operation(compute, async_url, poll_delay(answer), deadline, outcome);
    if (outcome.error || !outcome.detail.empty()) co_return outcome;
    if (accepted) {
      // No GET after the operation (go-autorest's Result() makes one): the accepted model already says which
      // identities are now on the resource, and every round starts with a GET of its own anyway.
      (*accepted)["properties"]["provisioningState"] = "Succeeded";
      outcome.resource = std::move(*accepted);
      co_return outcome;
    }
  } else {
    // No status URL: the resource's own provisioningState tells (an empty 202/204 body: poll the resource).
    std::string state = "Updating";
    if (!answer.body().empty()) {
      auto resource = json_object(answer, outcome, "PATCH answer");
      if (!resource) co_return outcome;
      state = provisioning_state(*resource);
      if (failed(state)) {
        outcome.error = operation_error(*resource, state);
        metrics_.errors.Add({{"code", outcome.error->code}}).Increment();
        co_return outcome;
      }
    }
    if (!terminal(state)) {
      // Polling the resource ends with it read: that poll is the final GET.
      co_await wait_for_resource(compute, poll_delay(answer), deadline, outcome);
      co_return outcome;
    }
  }
  if (outcome.error || !outcome.detail.empty()) co_return outcome;

  // The identity block now in force.
  auto final_get = co_await exchange(get_operation(compute), compute.id(), resource_url(compute),
                                     make_request(bh::verb::get), outcome);
  if (!final_get.response) co_return outcome;
  if (!success(final_get.response->result_int())) {
    set_failure(outcome, *final_get.response, std::move(final_get.error), clock_.now());
    co_return outcome;
  }
  if (auto resource = json_object(*final_get.response, outcome, "ARM resource")) {
    outcome.resource = std::move(*resource);
  }
  co_return outcome;
}

asio::awaitable<void> HttpArmClient::wait_for_operation(const ResourceId& compute, const std::string& async_url,
                                                        milliseconds delay, SteadyTime deadline,
                                                        ArmOutcome& outcome) {
  auto url = http::Url::parse(async_url);
  if (!url) {
    outcome.detail = "unusable Azure-AsyncOperation: " + url.error().message();
    co_return;
  }
  if (!same_origin(*url, options_.endpoint)) {
    outcome.detail = "Azure-AsyncOperation points to " + url->scheme + "://" + url->host_header() +
                     ", not the resource manager: not sending the ARM token there";
    log::warn("ARM operation not polled", {{"resource", compute.id()}, {"error", outcome.detail}});
    co_return;
  }
  // An operation status body: {"status": "InProgress" | "Succeeded" | "Failed" | ...}.
  const StateReader state_of = [](const json& body) -> std::optional<std::string> {
    auto it = body.find("status");
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  co_await poll(compute, kPollOperation, *url, "operation status", state_of, delay, deadline, outcome);
}

asio::awaitable<void> HttpArmClient::wait_for_resource(const ResourceId& compute, milliseconds delay,
                                                       SteadyTime deadline, ArmOutcome& outcome) {
  const StateReader state_of = [](const json& resource) -> std::optional<std::string> {
    return provisioning_state(resource);
  };
  const http::Url url = resource_url(compute);  // named: no temporaries inside a co_await (GCC 12)
  auto last = co_await poll(compute, get_operation(compute), url, "ARM resource", state_of, delay, deadline, outcome);
  if (last) outcome.resource = std::move(*last);
}

asio::awaitable<std::optional<json>> HttpArmClient::poll(const ResourceId& compute, const char* operation,
                                                         const http::Url& url, const char* what,
                                                         const StateReader& state_of, milliseconds delay,
                                                         SteadyTime deadline, ArmOutcome& outcome) {
  for (;;) {
    co_await sleep_for(std::min(delay, left_until(deadline)));
    auto ex = co_await exchange(operation, compute.id(), url, make_request(bh::verb::get), outcome);
    if (!ex.response) co_return std::nullopt;
    const http::Response& res = *ex.response;
    const unsigned status = res.result_int();
    if (transient(status)) {
      delay = poll_delay(res);
    } else if (!success(status)) {
      set_failure(outcome, res, std::move(ex.error), clock_.now());
      co_return std::nullopt;
    } else {
      auto body = json_object(res, outcome, what);
      if (!body) co_return std::nullopt;
      auto state = state_of(*body);
      if (!state) {
        outcome.detail = std::string(what) + " has no \"status\": " + summary(res.body());
        co_return std::nullopt;
      }
      if (failed(*state)) {
        outcome.error = operation_error(*body, *state);
        metrics_.errors.Add({{"code", outcome.error->code}}).Increment();
        log::warn("ARM operation failed",
                  {{"resource", compute.id()}, {"status", *state}, {"error_code", outcome.error->code}});
        co_return std::nullopt;
      }
      if (terminal(*state)) co_return std::move(*body);  // Succeeded
      delay = poll_delay(res);
    }
    if (left_until(deadline) <= milliseconds::zero()) {
      outcome.detail = "operation did not end within " + std::to_string(options_.operation_timeout.count()) + " ms";
      log::warn("ARM operation timed out", {{"resource", compute.id()}, {"error", outcome.detail}});
      co_return std::nullopt;
    }
  }
}

}  // namespace podid::controller::arm
