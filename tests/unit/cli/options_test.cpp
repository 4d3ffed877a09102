// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "cli/options.h"

namespace podid::cli {
namespace {

CliOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "podid");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(Options, DoctorAndExplain) {
  auto d = parse({"doctor", "-o", "json", "--mode=managed", "--force-namespaced", "--cloud-config", "/etc/azure.json"});
  EXPECT_EQ(d.command, Command::kDoctor);
  EXPECT_TRUE(d.json);
  EXPECT_EQ(d.selection.mode, agent::Mode::kManaged);
  EXPECT_TRUE(d.selection.force_namespaced);
  EXPECT_EQ(d.cloud_config, "/etc/azure.json");
  auto e = parse({"explain", "shop/app", "--namespace", "podid"});
  EXPECT_EQ(e.command, Command::kExplain);
  EXPECT_EQ(e.pod_namespace, "shop");
  EXPECT_EQ(e.pod_name, "app");
  EXPECT_EQ(e.podid_namespace, "podid");
  EXPECT_EQ(parse({"help"}).command, Command::kHelp);
}

TEST(Options, BadUsageThrows) {
  for (auto args : std::vector<std::vector<const char*>>{
           {}, {"doctr"}, {"doctor", "--output"}, {"doctor", "-o", "yaml"}, {"doctor", "--mode", "x"},
           {"explain"}, {"explain", "app"}, {"explain", "/app"}, {"explain", "a/b/c"}, {"explain", "a/b", "c/d"},
           {"doctor", "--timeout-ms", "0"}, {"doctor", "--arm-concurrency", "many"}, {"doctor", "--bogus"},
           {"doctor", "--force-namespaced=maybe"}, {"doctor", "--imds-endpoint", "https://x"}}) {
    EXPECT_THROW(parse(args), std::invalid_argument) << (args.empty() ? "(none)" : args[0]);
  }
}

}  // namespace
}  // namespace podid::cli
