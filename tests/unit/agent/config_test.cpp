// SPDX-License-Identifier: Apache-2.0
#include "agent/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace podid::agent;

namespace {
Invocation parse(std::vector<const char*> args) {
  args.insert(args.begin(), "podid-agent");
  // Every run needs a node name unless Kubernetes is off; tests that are not about it get one.
  bool named = false;
  for (const char* a : args) named = named || std::string(a).rfind("--node-name", 0) == 0 || std::string(a) == "--kube";
  if (!named && args.size() > 1 && std::string(args[1]) == "run") {
    args.insert(args.begin() + 2, {"--node-name", "node-1"});
  }
  return parse_agent_args(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST(AgentConfig, DefaultsAreTheAzureOnes) {
  auto inv = parse({"run"});
  EXPECT_EQ(inv.command, Command::kRun);
  EXPECT_EQ(inv.config.listen_address, "169.254.32.1");
  EXPECT_EQ(inv.config.listen_port, 2579);
  ASSERT_EQ(inv.config.targets.size(), 5u);
  EXPECT_EQ(inv.config.targets[0].to_string(), "redirect:tcp:169.254.169.254:80");
  EXPECT_EQ(inv.config.targets[4].to_string(), "allow:any:168.63.129.16:0");
}

TEST(AgentConfig, FlagsOverrideAndTargetsReplaceTheDefaults) {
  auto inv = parse({"run", "--listen", "169.254.9.9:8080", "--conn-table-size=128", "--target",
                    "redirect:tcp:169.254.169.254:80", "--target", "deny:tcp:[fd00:ec2::254]:80"});
  EXPECT_EQ(inv.config.listen_address, "169.254.9.9");
  EXPECT_EQ(inv.config.listen_port, 8080);
  EXPECT_EQ(inv.config.conn_table_size, 128u);
  ASSERT_EQ(inv.config.targets.size(), 2u);
  EXPECT_EQ(inv.config.targets[1].addr, "fd00:ec2::254");
  EXPECT_EQ(inv.config.targets[1].to_string(), "deny:tcp:[fd00:ec2::254]:80");
}

TEST(AgentConfig, EnvironmentFillsWhatFlagsLeaveOut) {
  ::setenv("PODID_PIN_NAME", "from-env", 1);
  ::setenv("PODID_LOG_LEVEL", "warn", 1);
  auto inv = parse({"run", "--log-level", "debug"});
  ::unsetenv("PODID_PIN_NAME");
  ::unsetenv("PODID_LOG_LEVEL");
  EXPECT_EQ(inv.config.pin_name, "from-env");
  EXPECT_EQ(inv.config.log_level, "debug");
}

TEST(AgentConfig, BadInputIsRefusedWithTheFlagNamed) {
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
  refused({"run", "--mode", "tenant"}, "--mode");
  refused({"run", "--mode", "federated", "--federated", "false"}, "--federated false");
  refused({"run", "--token-request-credential", "root"}, "--token-request-credential");
  refused({"run", "--token-expiration-seconds", "599"}, "--token-expiration-seconds");
  refused({"run", "--token-expiration-seconds", "86401"}, "--token-expiration-seconds");
  refused({"run", "--token-audience", "api://a b"}, "--token-audience");
  refused({"run", "--federated-authority", "ftp://login"}, "--federated-authority");
  refused({"run", "--federated-tenant-id", "a/b"}, "--federated-tenant-id");
  refused({"run", "--node-name", "Node_1"}, "--node-name");
  refused({"run", "--kube", "on", "--listen", "169.254.1.1:80"}, "--node-name is required");
  refused({"run", "--force-namespaced", "maybe"}, "--force-namespaced");
  refused({"run", "--not-ready-status", "500"}, "--not-ready-status");
  refused({"run", "--assignment-wait-ms", "60000"}, "--assignment-wait-ms");
  refused({"run", "--imds-upstream", "https://169.254.169.254"}, "--imds-upstream");
  refused({"run", "--passthrough-prefix", "/etc"}, "--passthrough-prefix");
  refused({"run", "--config", "/nonexistent/podid.json"}, "--config");
  refused({"run", "--host-hooks", "maybe"}, "--host-hooks");
  refused({"run", "--uplink", "eth0/1"}, "--uplink");
  refused({"run", "--uplink", "a-name-longer-than-ifnamsiz"}, "--uplink");
  refused({"run", "--pod-interface-prefix", ""}, "--pod-interface-prefix");
  refused({"run", "--conn-quota-per-pod", "-1"}, "--conn-quota-per-pod");
}

TEST(AgentConfig, FrameHooksAndQuota) {
  auto defaults = parse({"run"}).config;
  EXPECT_EQ(defaults.host_hooks, HostHooksMode::kAuto);
  EXPECT_TRUE(defaults.uplinks.empty());
  EXPECT_TRUE(defaults.pod_interface_prefixes.empty());
  EXPECT_EQ(defaults.conn_quota_per_pod, 256u);
  auto c = parse({"run", "--host-hooks", "require", "--uplink", "eth0", "--uplink", "eth1", "--pod-interface-prefix",
                  "veth", "--pod-interface-prefix=azv", "--conn-quota-per-pod", "0"})
               .config;
  EXPECT_EQ(c.host_hooks, HostHooksMode::kRequire);
  EXPECT_EQ(c.uplinks, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(c.pod_interface_prefixes, (std::vector<std::string>{"veth", "azv"}));
  EXPECT_EQ(c.conn_quota_per_pod, 0u);  // no limit
  EXPECT_EQ(parse({"run", "--host-hooks", "off"}).config.host_hooks, HostHooksMode::kOff);
}

namespace {
// A JSON config file in a temporary path, removed when the test ends.
struct TempConfig {
  std::string path = ::testing::TempDir() + "podid-agent-config-" + std::to_string(::getpid()) + ".json";
  explicit TempConfig(const std::string& text) { std::ofstream(path) << text; }
  ~TempConfig() { std::remove(path.c_str()); }
};
}  // namespace

TEST(AgentConfig, TokenPathDefaultsAreTheDocumentedOnes) {
  auto c = parse({"run"}).config;
  EXPECT_TRUE(c.kube_enabled);
  EXPECT_EQ(c.mode, OperationMode::kStandard);
  EXPECT_FALSE(c.force_namespaced);
  EXPECT_FALSE(c.strict_default_identity);
  EXPECT_TRUE(c.verify_source_ip);
  EXPECT_EQ(c.imds_upstream, "http://169.254.169.254");
  EXPECT_EQ(c.not_ready_answer, NotReadyAnswer::k404);
  EXPECT_EQ(c.assignment_wait.count(), 0);
  EXPECT_TRUE(c.passthrough);
  EXPECT_FALSE(c.block_instance_metadata);
}

TEST(AgentConfig, FederatedDefaultsAndFlags) {
  auto d = parse({"run"}).config;
  EXPECT_TRUE(d.federated);
  EXPECT_EQ(d.token_request_identity, TokenRequestIdentity::kKubelet);
  EXPECT_EQ(d.kubelet_kubeconfig, "/var/lib/kubelet/kubeconfig");
  EXPECT_EQ(d.token_audience, "api://AzureADTokenExchange");
  EXPECT_EQ(d.token_expiration, std::chrono::seconds{3600});
  auto c = parse({"run", "--mode", "federated", "--token-request-credential", "service-account", "--kubelet-kubeconfig",
                  "/etc/kubernetes/kubelet.conf", "--token-audience", "api://Other", "--token-expiration-seconds",
                  "600", "--federated-authority", "https://login.microsoftonline.us/", "--federated-tenant-id",
                  "72f988bf-86f1-41af-91ab-2d7cd011db47"})
               .config;
  EXPECT_EQ(c.mode, OperationMode::kFederated);
  EXPECT_EQ(c.token_request_identity, TokenRequestIdentity::kServiceAccount);
  EXPECT_EQ(c.kubelet_kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(c.token_audience, "api://Other");
  EXPECT_EQ(c.token_expiration, std::chrono::seconds{600});
  EXPECT_EQ(c.federated_authority, "https://login.microsoftonline.us/");
  EXPECT_EQ(c.federated_tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
}

TEST(AgentConfig, KubeOffNeedsNoNodeName) {
  auto c = parse({"run", "--kube", "off"}).config;
  EXPECT_FALSE(c.kube_enabled);
  EXPECT_TRUE(c.node_name.empty());
}

TEST(AgentConfig, FileFillsWhatFlagsAndEnvironmentLeaveOut) {
  TempConfig file(R"({"mode": "managed", "log-level": "warn", "force-namespaced": true,
                      "passthrough-prefix": ["/metadata/instance", "/metadata/versions"],
                      "not-ready-retry-after-seconds": 7, "pin-name": "from-file"})");
  ::setenv("PODID_PIN_NAME", "from-env", 1);
  auto c = parse({"run", "--config", file.path.c_str(), "--log-level", "debug"}).config;
  ::unsetenv("PODID_PIN_NAME");
  EXPECT_EQ(c.mode, OperationMode::kManaged);
  EXPECT_EQ(c.log_level, "debug");    // flag beats file
  EXPECT_EQ(c.pin_name, "from-env");  // environment beats file
  EXPECT_TRUE(c.force_namespaced);
  EXPECT_EQ(c.not_ready_retry_after.count(), 7);
  ASSERT_EQ(c.passthrough_prefixes.size(), 2u);
  EXPECT_EQ(c.passthrough_prefixes[1], "/metadata/versions");
}

TEST(AgentConfig, BadFileNamesTheKey) {
  auto refused_file = [](const std::string& text, const std::string& mention) {
    TempConfig file(text);
    try {
      parse({"run", "--config", file.path.c_str()});
      ADD_FAILURE() << "accepted " << text;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  };
  refused_file("{not json", "not JSON");
  refused_file("[1, 2]", "top level");
  refused_file(R"({"colour": "blue"})", "key 'colour': unknown setting");
  refused_file(R"({"mode": ["standard"]})", "key 'mode': takes one value");
  refused_file(R"({"mode": "sideways"})", "--mode");
  refused_file(R"({"conn-table-size": -3})", "key 'conn-table-size'");
  refused_file(R"({"listen": {"addr": 1}})", "key 'listen'");
}

TEST(AgentConfig, TheDecisionsListenerIsLoopbackOnly) {
  auto inv = parse({"run"});
  EXPECT_EQ(inv.config.decisions_address, "127.0.0.1");
  EXPECT_EQ(inv.config.decisions_port, 9103);
  auto moved = parse({"run", "--decisions-listen", "[::1]:0"});
  EXPECT_EQ(moved.config.decisions_address, "::1");
  EXPECT_EQ(moved.config.decisions_port, 0);
  for (const char* address : {"0.0.0.0:9103", "10.0.0.4:9103", "[::]:9103", "169.254.32.1:9103"}) {
    try {
      parse({"run", "--decisions-listen", address});
      ADD_FAILURE() << address << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("not a loopback address"), std::string::npos) << e.what();
    }
  }
}
