// SPDX-License-Identifier: Apache-2.0
// HttpArmClient against a fake ARM on loopback, with the real HTTP client: what goes on the wire (paths,
// api-version, bearer, body), how each answer becomes an ArmOutcome, long-running operations to their end,
// and the metrics counted on the way.
#include "controller/arm/http_arm_client.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "loopback_server.h"
#include "run_until.h"

namespace podid::controller::arm {
namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;
using nlohmann::json;
using podid::testing::run_task;
using testing::LoopbackServer;
using testing::respond;

constexpr const char* kVmssPath =
    "/subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-vmss";
constexpr const char* kVmPath = "/subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachines/vm-0";
constexpr const char* kId1 =
    "/subscriptions/sub-1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one";

// 2026-01-01T00:00:00Z, a Thursday.
constexpr std::chrono::seconds kNow{1767225600};

class FixedClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::time_point{kNow}; }
};

ResourceId vmss() { return parse_resource_id(kVmssPath).value(); }
ResourceId vm() { return parse_resource_id(kVmPath).value(); }

std::string resource_body(const std::string& state, bool with_identity = true) {
  json j = {{"id", kVmssPath}, {"name", "aks-vmss"}, {"properties", {{"provisioningState", state}}}};
  if (with_identity) {
    j["identity"] = {{"type", "UserAssigned"},
                     {"userAssignedIdentities", {{kId1, {{"principalId", "p-1"}, {"clientId", "c-1"}}}}}};
  }
  return j.dump();
}

std::string op_body(const std::string& status, const json& error = nullptr) {
  json j = {{"startTime", "2026-01-01T00:00:00Z"}, {"status", status}, {"name", "op-1"}};
  if (!error.is_null()) j["error"] = error;
  return j.dump();
}

class HttpArmClientTest : public ::testing::Test {
 protected:
  // The fake ARM answers request i with script[i] (500 past the end).
  void script(std::vector<http::Response> answers) {
    arm.answer = [answers = std::move(answers)](const http::Request&, size_t i) {
      return i < answers.size() ? answers[i] : respond(500, R"({"error":{"code":"Unscripted","message":"x"}})");
    };
  }

  std::string async_url(std::string_view op = "op-1") {
    return arm.url("/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/" +
                   std::string(op) + "?p=9&api-version=2024-07-01");
  }

  HttpArmClient& client(HttpArmClientOptions overrides = {}) {
    HttpArmClientOptions o = std::move(overrides);
    if (o.endpoint.host.empty()) o.endpoint = arm.base("/");
    if (o.poll_interval == HttpArmClientOptions{}.poll_interval) o.poll_interval = 10ms;  // tests do not wait 5 s
    if (!o.bearer) {
      o.bearer = [this]() -> asio::awaitable<Result<std::string>> {
        ++bearer_calls;
        co_return bearer_result;
      };
    }
    arm_client = std::make_unique<HttpArmClient>(http_client, std::move(o), registry, clock);
    return *arm_client;
  }

  ArmOutcome get(const ResourceId& id) { return run_task(io, arm_client->get(id), 20s); }
  ArmOutcome patch(const ResourceId& id, const json& body) { return run_task(io, arm_client->patch(id, body), 20s); }

  double counter(const std::string& name, const prometheus::Labels& labels) {
    return prometheus::BuildCounter().Name(name).Register(registry).Add(labels).Value();
  }
  uint64_t observations(const std::string& operation) {
    for (const auto& family : registry.Collect()) {
      if (family.name != "podid_controller_arm_request_duration_seconds") continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == "operation" && l.value == operation) return m.histogram.sample_count;
        }
      }
    }
    return 0;
  }

  std::vector<std::string> targets() const {
    std::vector<std::string> out;
    for (const auto& s : arm.seen()) out.push_back(std::string(s.request.method_string()) + " " +
                                                   std::string(s.request.target()));
    return out;
  }

  asio::io_context io;
  LoopbackServer arm{io, nullptr};
  http::Client http_client{io.get_executor(), http::ClientOptions{.timeout = 5s}};
  prometheus::Registry registry;
  FixedClock clock;
  Result<std::string> bearer_result = std::string("tok-1");
  int bearer_calls = 0;
  std::unique_ptr<HttpArmClient> arm_client;
};

const std::string kApi = "?api-version=2024-07-01";

// --- GET -------------------------------------------------------------------------------------------------------

TEST_F(HttpArmClientTest, GetReadsTheScaleSet) {
  script({respond(200, resource_body("Succeeded"), {{"x-ms-request-id", "req-1"}})});
  client();
  auto out = get(vmss());
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.status, 200u);
  EXPECT_EQ(out.request_id, "req-1");
  EXPECT_EQ(out.calls, 1u);
  EXPECT_EQ(out.resource["identity"]["userAssignedIdentities"].size(), 1u);
  EXPECT_FALSE(out.error);

  ASSERT_EQ(arm.seen().size(), 1u);
  const auto& req = arm.seen()[0].request;
  EXPECT_EQ(req.method(), bh::verb::get);
  EXPECT_EQ(req.target(), std::string(kVmssPath) + kApi);
  EXPECT_EQ(req[bh::field::authorization], "Bearer tok-1");
  EXPECT_EQ(req[bh::field::accept], "application/json");
  EXPECT_EQ(bearer_calls, 1);

  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vmss"}, {"code", "200"}}), 1);
  EXPECT_EQ(observations("GET vmss"), 1u);
}

TEST_F(HttpArmClientTest, GetVmUsesTheVmPathAndApiVersionAndEndpointPath) {
  script({respond(200, resource_body("Succeeded"))});
  HttpArmClientOptions o;
  o.endpoint = arm.base("/arm/");
  o.api_version = "2019-12-01";
  client(std::move(o));
  auto out = get(vm());
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(targets(), std::vector<std::string>{"GET /arm" + std::string(kVmPath) + "?api-version=2019-12-01"});
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vm"}, {"code", "200"}}), 1);
}

TEST_F(HttpArmClientTest, GetNotFoundIsAnOutcomeWithTheArmError) {
  script({respond(404,
                  R"({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Compute/virtualMachineScaleSets/aks-vmss' under resource group 'MC_rg' was not found."}})",
                  {{"x-ms-request-id", "req-404"}})});
  client();
  auto out = get(vmss());
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 404u);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "ResourceNotFound");
  EXPECT_EQ(out.request_id, "req-404");
  EXPECT_FALSE(out.retry_after);
  EXPECT_EQ(counter("podid_controller_arm_errors_total", {{"code", "ResourceNotFound"}}), 1);
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vmss"}, {"code", "404"}}), 1);
}

TEST_F(HttpArmClientTest, GetForbiddenCarriesTheRemedy) {
  script({respond(
      403,
      std::string(
          R"({"error":{"code":"AuthorizationFailed","message":"The client 'app' with object id 'oid-1' does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/read' over scope ')") +
          kVmssPath + R"(' or the scope is invalid. If access was recently granted, please refresh your credentials."}})")});
  client();
  auto out = get(vmss());
  EXPECT_EQ(out.status, 403u);
  ASSERT_TRUE(out.error);
  EXPECT_TRUE(out.error->is_authorization_failure());
  EXPECT_EQ(out.error->remedy(), std::string("az role assignment create --assignee oid-1 --role \"Virtual Machine "
                                             "Contributor\" --scope ") +
                                     kVmssPath);
}

constexpr const char* kTooMany =
    R"({"error":{"code":"OperationNotAllowed","message":"The server rejected the request because too many requests have been received for this subscription.","details":[{"code":"TooManyRequests","target":"HighCostGet30Min","message":"x"}]}})";

TEST_F(HttpArmClientTest, ThrottledWithRetryAfterSeconds) {
  script({respond(429, kTooMany, {{"Retry-After", "17"}})});
  client();
  auto out = get(vmss());
  EXPECT_TRUE(out.throttled());
  EXPECT_FALSE(out.ok());
  ASSERT_TRUE(out.retry_after);
  EXPECT_EQ(*out.retry_after, 17s);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "OperationNotAllowed");
  EXPECT_EQ(counter("podid_controller_arm_throttled_total", {{"operation", "GET vmss"}}), 1);
  EXPECT_EQ(arm.seen().size(), 1u) << "a throttled GET is not retried by the client: the reconciler waits";
}

TEST_F(HttpArmClientTest, ThrottledWithRetryAfterDate) {
  script({respond(429, kTooMany, {{"Retry-After", "Thu, 01 Jan 2026 00:02:00 GMT"}})});
  client();
  auto out = get(vmss());
  ASSERT_TRUE(out.retry_after);
  EXPECT_EQ(*out.retry_after, 120s);
}

TEST_F(HttpArmClientTest, UnavailableWithRetryAfter) {
  script({respond(503, R"({"error":{"code":"ServiceUnavailable","message":"busy"}})", {{"Retry-After", "3"}})});
  client();
  auto out = get(vmss());
  EXPECT_EQ(out.status, 503u);
  ASSERT_TRUE(out.retry_after);
  EXPECT_EQ(*out.retry_after, 3s);
  EXPECT_EQ(counter("podid_controller_arm_throttled_total", {{"operation", "GET vmss"}}), 0);
}

TEST_F(HttpArmClientTest, UnreadableRetryAfterIsIgnored) {
  script({respond(429, kTooMany, {{"Retry-After", "soon"}})});
  client();
  auto out = get(vmss());
  EXPECT_TRUE(out.throttled());
  EXPECT_FALSE(out.retry_after);
}

TEST_F(HttpArmClientTest, ErrorWithoutEnvelopeIsExplainedInDetail) {
  script({respond(502, "<html>Bad Gateway</html>")});
  client();
  auto out = get(vmss());
  EXPECT_EQ(out.status, 502u);
  EXPECT_FALSE(out.error);
  EXPECT_NE(out.detail.find("502"), std::string::npos) << out.detail;
  EXPECT_NE(out.detail.find("Bad Gateway"), std::string::npos) << out.detail;
}

TEST_F(HttpArmClientTest, SuccessWithUnreadableBodyIsNotOk) {
  script({respond(200, "[1,2")});
  client();
  auto out = get(vmss());
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.detail.find("not a JSON object"), std::string::npos) << out.detail;
}

TEST_F(HttpArmClientTest, IdentityIdIsNotAComputeResource) {
  script({});
  client();
  auto out = get(parse_identity_id(kId1).value());
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 0u);
  EXPECT_NE(out.detail.find("not a scale set or VM"), std::string::npos);
  EXPECT_TRUE(arm.seen().empty());
}

// --- transport and token -----------------------------------------------------------------------------------------

TEST_F(HttpArmClientTest, BearerFailureSendsNothing) {
  script({respond(200, resource_body("Succeeded"))});
  bearer_result = Error{std::make_error_code(std::errc::permission_denied), "IMDS answered 400: identity not found"};
  client();
  auto out = get(vmss());
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 0u);
  EXPECT_EQ(out.calls, 0u);
  EXPECT_NE(out.detail.find("identity not found"), std::string::npos) << out.detail;
  EXPECT_TRUE(arm.seen().empty());
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vmss"}, {"code", "no_token"}}), 1);

  auto patched = patch(vmss(), json{{"identity", {{"type", "UserAssigned"}}}});
  EXPECT_EQ(patched.status, 0u);
  EXPECT_TRUE(arm.seen().empty());
}

TEST_F(HttpArmClientTest, ClosedPortIsStatusZero) {
  uint16_t closed;
  {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed = probe.local_endpoint().port();
  }
  HttpArmClientOptions o;
  o.endpoint = http::Url::parse("http://127.0.0.1:" + std::to_string(closed) + "/").value();
  client(std::move(o));
  auto out = get(vmss());
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 0u);
  EXPECT_EQ(out.calls, 1u);
  EXPECT_FALSE(out.detail.empty());
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vmss"}, {"code", "error"}}), 1);
}

TEST_F(HttpArmClientTest, SlowAnswerTimesOutWithTheClientsTimeout) {
  script({respond(200, resource_body("Succeeded"))});
  arm.delay = 2s;
  http::Client quick{io.get_executor(), http::ClientOptions{.timeout = 200ms}};
  HttpArmClientOptions o;
  o.endpoint = arm.base("/");
  o.bearer = []() -> asio::awaitable<Result<std::string>> { co_return std::string("t"); };
  HttpArmClient c(quick, std::move(o), registry, clock);
  auto start = std::chrono::steady_clock::now();
  auto out = run_task(io, c.get(vmss()), 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(out.status, 0u);
  EXPECT_FALSE(out.detail.empty());
}

// --- PATCH -------------------------------------------------------------------------------------------------------

const json kBody = {{"identity", {{"type", "UserAssigned"}, {"userAssignedIdentities", {{kId1, json::object()}}}}}};

TEST_F(HttpArmClientTest, PatchFollowsTheAsyncOperationAndKeepsTheAcceptedModel) {
  script({respond(200, resource_body("Updating"),
                  {{"Azure-AsyncOperation", async_url()}, {"x-ms-request-id", "req-patch"}}),
          respond(200, op_body("InProgress"), {{"x-ms-request-id", "req-poll-1"}}),
          respond(200, op_body("Succeeded"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.status, 200u);
  EXPECT_EQ(out.calls, 3u) << "no GET after the operation: the PATCH answer carried the model";
  EXPECT_EQ(out.request_id, "req-patch");
  EXPECT_EQ(out.resource["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(out.resource["identity"]["userAssignedIdentities"].size(), 1u);

  const std::string op_target =
      "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/op-1?p=9&api-version=2024-07-01";
  EXPECT_EQ(targets(), (std::vector<std::string>{"PATCH " + std::string(kVmssPath) + kApi, "GET " + op_target,
                                                 "GET " + op_target}));
  const auto& sent = arm.seen()[0].request;
  EXPECT_EQ(sent[bh::field::content_type], "application/json");
  EXPECT_EQ(json::parse(sent.body()), kBody);
  for (const auto& s : arm.seen()) EXPECT_EQ(s.request[bh::field::authorization], "Bearer tok-1");
  EXPECT_EQ(bearer_calls, 3) << "the bearer source is asked before every request";

  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "PATCH vmss"}, {"code", "200"}}), 1);
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET operation"}, {"code", "200"}}), 2);
  EXPECT_EQ(observations("GET operation"), 2u);
}

TEST_F(HttpArmClientTest, PatchOfAVmUsesTheVmOperationNames) {
  script({respond(200, resource_body("Succeeded")), respond(200, resource_body("Succeeded"))});
  client();
  auto out = patch(vm(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "PATCH vm"}, {"code", "200"}}), 1);
  EXPECT_EQ(counter("podid_controller_arm_requests_total", {{"operation", "GET vm"}, {"code", "200"}}), 1);
}

TEST_F(HttpArmClientTest, AsyncFailureCarriesTheOperationsError) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(200, op_body("Failed", {{"code", "OperationPreempted"},
                                          {"message", "Operation execution has been preempted by a more recent "
                                                      "operation."}}))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 200u);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "OperationPreempted");
  EXPECT_EQ(out.calls, 2u) << "no final GET after a failed operation";
  EXPECT_EQ(counter("podid_controller_arm_errors_total", {{"code", "OperationPreempted"}}), 1);
}

TEST_F(HttpArmClientTest, CanceledInAnyCaseWithoutErrorObjectIsAnError) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(200, op_body("canceled"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "canceled");
}

TEST_F(HttpArmClientTest, SucceededInAnyCaseEndsTheOperation) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(200, op_body("SUCCEEDED"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.calls, 2u);
}

TEST_F(HttpArmClientTest, PatchWithoutAsyncHeaderUsesTheProvisioningState) {
  script({respond(200, resource_body("Succeeded")), respond(200, resource_body("Succeeded"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.calls, 2u);
  EXPECT_EQ(targets(), (std::vector<std::string>{"PATCH " + std::string(kVmssPath) + kApi,
                                                 "GET " + std::string(kVmssPath) + kApi}));
}

TEST_F(HttpArmClientTest, PatchWithoutAsyncHeaderAndFailedStateIsAnError) {
  script({respond(200, resource_body("Failed"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "Failed");
  EXPECT_EQ(out.calls, 1u);
}

TEST_F(HttpArmClientTest, PatchWithoutAsyncHeaderStillUpdatingPollsTheResource) {
  script({respond(200, resource_body("Updating")), respond(200, resource_body("Updating")),
          respond(200, resource_body("Succeeded"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.calls, 3u) << "the poll that saw Succeeded is the final read";
  EXPECT_EQ(out.resource["properties"]["provisioningState"], "Succeeded");
}

TEST_F(HttpArmClientTest, PatchRefusedKeepsTheEnvelope) {
  const std::string body =
      std::string(R"({"error":{"code":"FailedIdentityOperation","message":"Identity operation for resource ')") +
      kVmssPath +
      R"(' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource ')" +
      kId1 + R"(' was not found.\"}}'.'."}})";
  script({respond(400, body)});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_EQ(out.status, 400u);
  ASSERT_TRUE(out.error);
  EXPECT_TRUE(out.error->retry_without_identities());
  EXPECT_EQ(out.error->identities, std::vector<std::string>{kId1});
  EXPECT_EQ(out.calls, 1u);
}

TEST_F(HttpArmClientTest, PatchThrottledReportsRetryAfter) {
  script({respond(429, kTooMany, {{"Retry-After", "30"}})});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.throttled());
  ASSERT_TRUE(out.retry_after);
  EXPECT_EQ(*out.retry_after, 30s);
  EXPECT_EQ(counter("podid_controller_arm_throttled_total", {{"operation", "PATCH vmss"}}), 1);
}

TEST_F(HttpArmClientTest, PollRetryAfterIsHonoured) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(200, op_body("InProgress"), {{"Retry-After", "1"}}), respond(200, op_body("Succeeded"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  ASSERT_EQ(arm.seen().size(), 3u);
  EXPECT_GE(arm.seen()[2].at - arm.seen()[1].at, 950ms) << "second poll waited for Retry-After: 1";
  EXPECT_LT(arm.seen()[1].at - arm.seen()[0].at, 900ms) << "first poll after poll_interval (10 ms)";
}

TEST_F(HttpArmClientTest, PollRetryAfterIsCapped) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}, {"Retry-After", "3600"}}),
          respond(200, op_body("Succeeded")), respond(200, resource_body("Succeeded"))});
  HttpArmClientOptions o;
  o.max_poll_delay = 50ms;
  client(std::move(o));
  auto start = std::chrono::steady_clock::now();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(HttpArmClientTest, ThrottledPollIsRetried) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(429, kTooMany, {{"Retry-After", "0"}}), respond(200, op_body("Succeeded"))});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_TRUE(out.ok()) << out.detail;
  EXPECT_EQ(out.calls, 3u);
  EXPECT_EQ(counter("podid_controller_arm_throttled_total", {{"operation", "GET operation"}}), 1);
}

TEST_F(HttpArmClientTest, PollNotFoundEndsWithTheError) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(404, R"({"error":{"code":"NotFound","message":"The operation 'op-1' could not be found."}})")});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 404u);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "NotFound");
}

TEST_F(HttpArmClientTest, PollWithoutStatusIsAProtocolSurprise) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}}),
          respond(200, R"({"name":"op-1"})")});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.detail.find("status"), std::string::npos) << out.detail;
}

TEST_F(HttpArmClientTest, AsyncUrlElsewhereIsNotPolled) {
  // Another port on loopback: nothing listens there, and the client must not even try (the token would go).
  script({respond(200, resource_body("Updating"),
                  {{"Azure-AsyncOperation", "http://127.0.0.1:1/subscriptions/s/operations/op-1?api-version=x"}})});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.calls, 1u);
  EXPECT_NE(out.detail.find("not the resource manager"), std::string::npos) << out.detail;
}

TEST_F(HttpArmClientTest, UnparseableAsyncUrl) {
  script({respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", "ftp://x/y"}})});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.calls, 1u);
  EXPECT_NE(out.detail.find("Azure-AsyncOperation"), std::string::npos) << out.detail;
}

TEST_F(HttpArmClientTest, OperationThatNeverEndsTimesOut) {
  arm.answer = [this](const http::Request& req, size_t i) {
    if (i == 0) return respond(200, resource_body("Updating"), {{"Azure-AsyncOperation", async_url()}});
    (void)req;
    return respond(200, op_body("InProgress"));
  };
  HttpArmClientOptions o;
  o.operation_timeout = 300ms;
  o.poll_interval = 20ms;
  client(std::move(o));
  auto start = std::chrono::steady_clock::now();
  auto out = patch(vmss(), kBody);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.detail.find("did not end within 300 ms"), std::string::npos) << out.detail;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_GT(out.calls, 2u);
}

TEST_F(HttpArmClientTest, FinalGetFailureIsTheOutcome) {
  // A PATCH answer without the model: the resource is read once the operation succeeded.
  script({respond(200, R"({"properties":{"provisioningState":"Updating"}})", {{"Azure-AsyncOperation", async_url()}}),
          respond(200, op_body("Succeeded")),
          respond(404, R"({"error":{"code":"ResourceNotFound","message":"gone"}})")});
  client();
  auto out = patch(vmss(), kBody);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status, 404u);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, "ResourceNotFound");
  EXPECT_EQ(out.calls, 3u);
}

TEST(HttpArmClient, RefusesAnEmptyBearerSource) {
  asio::io_context io;
  http::Client client{io.get_executor(), {}};
  prometheus::Registry registry;
  HttpArmClientOptions o;
  o.endpoint = http::Url::parse("http://127.0.0.1:9/").value();
  EXPECT_THROW(HttpArmClient(client, std::move(o), registry), std::invalid_argument);
}

}  // namespace
}  // namespace podid::controller::arm
