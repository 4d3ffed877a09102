// SPDX-License-Identifier: Apache-2.0
#include "agent/config.h"

#include <gtest/gtest.h>

#include <vector>

using namespace podid::agent;

namespace {
Invocation parse(std::vector<const char*> args) {
  args.insert(args.begin(), "podid-agent");
  return parse_agent_args(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST(AgentConfig, defaults_are_the_azure_ones) {
  auto inv = parse({"run"});
  EXPECT_EQ(inv.command, Command::kRun);
  EXPECT_EQ(inv.config.listen_address, "169.254.32.1");
  EXPECT_EQ(inv.config.listen_port, 2579);
  ASSERT_EQ(inv.config.targets.size(), 5u);
  EXPECT_EQ(inv.config.targets[0].to_string(), "redirect:tcp:169.254.169.254:80");
  EXPECT_EQ(inv.config.targets[4].to_string(), "allow:any:168.63.129.16:0");
}

TEST(AgentConfig, flags_override_and_targets_replace_the_defaults) {
  auto inv = parse({"run", "--listen", "169.254.9.9:8080", "--conn-table-size=128", "--target",
                    "redirect:tcp:169.254.169.254:80", "--target", "deny:tcp:[fd00:ec2::254]:80"});
  EXPECT_EQ(inv.config.listen_address, "169.254.9.9");
  EXPECT_EQ(inv.config.listen_port, 8080);
  EXPECT_EQ(inv.config.conn_table_size, 128u);
  ASSERT_EQ(inv.config.targets.size(), 2u);
  EXPECT_EQ(inv.config.targets[1].addr, "fd00:ec2::254");
  EXPECT_EQ(inv.config.targets[1].to_string(), "deny:tcp:[fd00:ec2::254]:80");
}

TEST(AgentConfig, environment_fills_what_flags_leave_out) {
  ::setenv("PODID_PIN_NAME", "from-env", 1);
  ::setenv("PODID_LOG_LEVEL", "warn", 1);
  auto inv = parse({"run", "--log-level", "debug"});
  ::unsetenv("PODID_PIN_NAME");
  ::unsetenv("PODID_LOG_LEVEL");
  EXPECT_EQ(inv.config.pin_name, "from-env");
  EXPECT_EQ(inv.config.log_level, "debug");
}

TEST(AgentConfig, bad_input_is_refused_with_the_flag_named) {
  auto refused = [](std::vector<const char*> args, const std::string& mention) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted " << args.back();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  };
  refused({"run", "--listen", "169.254.1.1"}, "--listen");
  refused({"run", "--listen", "nonsense:80"}, "not an IP");
  refused({"run", "--listen", "169.254.1.1:0"}, "port 0");
  refused({"run", "--listen", "169.254.1.1:70000"}, "--listen");
  refused({"run", "--conn-table-size", "0"}, "--conn-table-size");
  refused({"run", "--conn-table-size", "-5"}, "--conn-table-size");
  refused({"run", "--target", "redirect:udp:169.254.169.254:80"}, "only tcp");
  refused({"run", "--target", "steal:tcp:169.254.169.254:80"}, "action");
  refused({"run", "--target", "deny:tcp:169.254.169.254"}, "--target");
  refused({"run", "--pin-name", "../etc"}, "--pin-name");
  refused({"run", "--log-level", "loud"}, "--log-level");
  refused({"run", "--frobnicate", "1"}, "unknown flag");
  refused({"explode"}, "unknown command");
  refused({"run", "--listen"}, "needs a value");
}
