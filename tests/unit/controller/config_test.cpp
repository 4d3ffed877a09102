// SPDX-License-Identifier: Apache-2.0
#include "controller/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace podid::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Invocation parse(std::vector<const char*> args) {
  args.insert(args.begin(), "podid-controller");
  return parse_controller_args(static_cast<int>(args.size()), args.data());
}

std::string error_of(std::vector<const char*> args) {
  try {
    parse(std::move(args));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ControllerConfig, DefaultsAreThePredecessorsWhereOneExists) {
  auto inv = parse({"--namespace", "podid-system"});
  const auto& c = inv.config;
  EXPECT_EQ(inv.command, Command::kRun);
  EXPECT_EQ(c.ns, "podid-system");
  EXPECT_EQ(c.cloud_config, "/etc/kubernetes/azure.json");
  EXPECT_EQ(c.coalesce_window, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.drift_check_interval, std::chrono::seconds(180));  // MIC's 3-minute reconcile interval
  EXPECT_EQ(c.leader_election_duration, std::chrono::seconds(15));
  EXPECT_TRUE(c.leader_elect);
  EXPECT_EQ(c.listen_port, 8888);  // MIC's prometheus port
  EXPECT_EQ(c.kube_api_qps, 50);   // kube-scheduler's (client-go's is 5)
  EXPECT_EQ(c.kube_api_burst, 100u);
  EXPECT_EQ(c.binding_event_window, std::chrono::milliseconds(30000));
}

TEST(ControllerConfig, WriteLimitAndEventWindow) {
  auto c =
      parse({"--namespace", "n", "--kube-api-qps", "200", "--kube-api-burst", "400", "--binding-event-window-ms", "0"})
          .config;
  EXPECT_EQ(c.kube_api_qps, 200);
  EXPECT_EQ(c.kube_api_burst, 400u);
  EXPECT_EQ(c.binding_event_window, std::chrono::milliseconds(0));
  EXPECT_THAT(error_of({"--namespace", "n", "--kube-api-qps", "0"}), HasSubstr("--kube-api-qps must be at least 1"));
  EXPECT_THAT(error_of({"--namespace", "n", "--kube-api-burst", "-1"}), HasSubstr("--kube-api-burst"));
}

TEST(ControllerConfig, NamespaceIsRequiredAndComesFromThePredecessorsVariable) {
  ::unsetenv("POD_NAMESPACE");
  ::unsetenv("MIC_POD_NAMESPACE");
  ::unsetenv("PODID_NAMESPACE");
  EXPECT_THAT(error_of({}), HasSubstr("--namespace is required"));
  ::setenv("MIC_POD_NAMESPACE", "kube-system", 1);
  EXPECT_EQ(parse({}).config.ns, "kube-system");
  ::setenv("POD_NAMESPACE", "podid-system", 1);
  EXPECT_EQ(parse({}).config.ns, "podid-system");
  EXPECT_EQ(parse({"--namespace", "flag-wins"}).config.ns, "flag-wins");
  ::unsetenv("POD_NAMESPACE");
  ::unsetenv("MIC_POD_NAMESPACE");
  EXPECT_EQ(parse({"help"}).command, Command::kHelp);  // help needs no namespace
}

TEST(ControllerConfig, ImmutableClientIdsAreCommaSeparatedRepeatableAndLowerCased) {
  auto c = parse({"--namespace", "n", "--immutable-user-msis",
                  "AAAAAAAA-1111-4111-8111-00000000000A,bbbbbbbb-2222-4222-8222-00000000000b",
                  "--immutable-user-msis=cccccccc-3333-4333-8333-00000000000c"})
               .config;
  EXPECT_THAT(c.immutable_client_ids, ElementsAre("aaaaaaaa-1111-4111-8111-00000000000a",
                                                  "bbbbbbbb-2222-4222-8222-00000000000b",
                                                  "cccccccc-3333-4333-8333-00000000000c"));
  EXPECT_THAT(error_of({"--namespace", "n", "--immutable-user-msis", "not-a-guid"}),
              HasSubstr("--immutable-user-msis: 'not-a-guid' is not a client id"));
}

TEST(ControllerConfig, BadValuesNameTheFlag) {
  EXPECT_THAT(error_of({"--namespace", "Bad_NS"}), HasSubstr("--namespace: 'Bad_NS' is not a namespace name"));
  EXPECT_THAT(error_of({"--namespace", "n", "--imds-endpoint", "https://x"}), HasSubstr("--imds-endpoint"));
  EXPECT_THAT(error_of({"--namespace", "n", "--max-parallel-computes", "0"}), HasSubstr("--max-parallel-computes must be at least 1"));
  EXPECT_THAT(error_of({"--namespace", "n", "--retry-initial-ms", "5000", "--retry-max-ms", "10"}),
              HasSubstr("--retry-max-ms must not be below --retry-initial-ms"));
  EXPECT_THAT(error_of({"--namespace", "n", "--leader-election-duration-s", "1"}), HasSubstr("at least 2"));
  EXPECT_THAT(error_of({"--namespace", "n", "--listen", "nowhere"}), HasSubstr("--listen"));
  EXPECT_THAT(error_of({"--namespace", "n", "--no-such-flag", "1"}), HasSubstr("unknown flag --no-such-flag"));
  EXPECT_THAT(error_of({"frobnicate"}), HasSubstr("unknown command 'frobnicate'"));
}

TEST(ControllerConfig, FileAndEnvironmentFillWhatFlagsLeaveOut) {
  const std::string path = ::testing::TempDir() + "/controller-config.json";
  std::ofstream(path) << R"({"namespace": "from-file", "drift-check-interval-s": 60, "leader-elect": false,
                            "immutable-user-msis": ["dddddddd-4444-4444-8444-00000000000d"]})";
  ::setenv("PODID_COALESCE_WINDOW_MS", "250", 1);
  auto c = parse({"--config", path.c_str(), "--drift-check-interval-s", "0"}).config;
  ::unsetenv("PODID_COALESCE_WINDOW_MS");
  EXPECT_EQ(c.ns, "from-file");
  EXPECT_EQ(c.drift_check_interval, std::chrono::seconds(0));  // the flag wins over the file
  EXPECT_FALSE(c.leader_elect);
  EXPECT_EQ(c.coalesce_window, std::chrono::milliseconds(250));
  EXPECT_THAT(c.immutable_client_ids, ElementsAre("dddddddd-4444-4444-8444-00000000000d"));
  std::ofstream(path) << R"({"namespace": "n", "unknown-key": 1})";
  EXPECT_THAT(error_of({"--config", path.c_str()}), HasSubstr("key 'unknown-key': unknown setting"));
}

}  // namespace
}  // namespace podid::controller
