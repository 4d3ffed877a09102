// SPDX-License-Identifier: Apache-2.0
#include "agent/config.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string_view>

namespace podid::agent {
namespace {

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

uint64_t parse_uint(const std::string& flag, const std::string& value, uint64_t max) {
  size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(value, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || value[0] == '-' || v > max) {
    throw std::invalid_argument(flag + ": '" + value + "' is not a number in [0, " + std::to_string(max) + "]");
  }
  return v;
}

// "addr:port" or "[v6]:port".
std::pair<std::string, uint16_t> parse_endpoint(const std::string& flag, const std::string& value) {
  std::string addr, port;
  if (!value.empty() && value[0] == '[') {
    auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      throw std::invalid_argument(flag + ": '" + value + "' is not [ipv6]:port");
    }
    addr = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    auto colon = value.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument(flag + ": '" + value + "' is not address:port");
    addr = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (!is_ip_literal(addr)) throw std::invalid_argument(flag + ": '" + addr + "' is not an IP address");
  return {addr, static_cast<uint16_t>(parse_uint(flag, port, 65535))};
}

}  // namespace

TargetRule TargetRule::parse(const std::string& spec) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument("--target '" + spec + "': " + why +
                                 " (want ACTION:PROTO:ADDR:PORT, e.g. redirect:tcp:169.254.169.254:80)");
  };
  auto c1 = spec.find(':');
  auto c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  if (c2 == std::string::npos) throw fail("too few fields");
  std::string action = spec.substr(0, c1), proto = spec.substr(c1 + 1, c2 - c1 - 1);
  TargetRule rule;
  static const std::map<std::string, podid_action> kActions = {
      {"redirect", PODID_ACTION_REDIRECT}, {"deny", PODID_ACTION_DENY}, {"allow", PODID_ACTION_ALLOW}};
  static const std::map<std::string, uint8_t> kProtos = {
      {"tcp", PODID_PROTO_TCP}, {"udp", PODID_PROTO_UDP}, {"any", PODID_PROTO_ANY}};
  auto a = kActions.find(action);
  if (a == kActions.end()) throw fail("action must be redirect, deny or allow");
  auto p = kProtos.find(proto);
  if (p == kProtos.end()) throw fail("protocol must be tcp, udp or any");
  rule.action = a->second;
  rule.proto = p->second;
  try {
    auto [addr, port] = parse_endpoint("--target", spec.substr(c2 + 1));
    rule.addr = addr;
    rule.port = port;
  } catch (const std::invalid_argument& e) {
    throw fail(e.what());
  }
  if (rule.action == PODID_ACTION_REDIRECT && rule.proto != PODID_PROTO_TCP) {
    throw fail("only tcp can be redirected");
  }
  return rule;
}

std::string TargetRule::to_string() const {
  const char* a = action == PODID_ACTION_REDIRECT ? "redirect" : action == PODID_ACTION_DENY ? "deny" : "allow";
  const char* p = proto == PODID_PROTO_TCP ? "tcp" : proto == PODID_PROTO_UDP ? "udp" : "any";
  bool v6 = addr.find(':') != std::string::npos;
  return std::string(a) + ":" + p + ":" + (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

std::vector<TargetRule> default_azure_targets() {
  return {
      {PODID_ACTION_REDIRECT, PODID_PROTO_TCP, "169.254.169.254", 80},
      {PODID_ACTION_DENY, PODID_PROTO_ANY, "169.254.169.254", 0},
      {PODID_ACTION_DENY, PODID_PROTO_TCP, "168.63.129.16", 80},
      {PODID_ACTION_DENY, PODID_PROTO_TCP, "168.63.129.16", 32526},
      {PODID_ACTION_ALLOW, PODID_PROTO_ANY, "168.63.129.16", 0},
  };
}

std::string agent_usage() {
  return R"(usage: podid-agent COMMAND [FLAGS]

commands:
  run        load, pin and attach the kernel programs (or take over pinned ones), then serve (default)
  uninstall  detach the programs and remove every pin; pods reach the metadata service directly again
  probe      check that this kernel and host can run podid, print what is missing, and exit
  version    print the version

flags (each also read from the environment as PODID_<FLAG>, e.g. PODID_CGROUP_PATH):
  --cgroup-path DIR        cgroup v2 directory to attach to (default: <cgroup2>/kubepods.slice or kubepods)
  --bpffs DIR              bpffs mount point (default /sys/fs/bpf; mounted if absent)
  --pin-name NAME          pins under <bpffs>/NAME/v1/ (default podid)
  --listen ADDR:PORT       redirect address the agent serves (default 169.254.32.1:2579)
  --listen6 ADDR           IPv6 redirect address, same port as --listen (default: none; native IPv6
                           targets are then refused)
  --ops-listen ADDR:PORT   /metrics, /healthz, /readyz (default 127.0.0.1:9102; port 0 = any free port)
  --conn-table-size N      connections in flight between connect() and accept() (default 65536)
  --max-entry-age-ms N     refuse kernel records older than this at accept() (default 5000)
  --target SPEC            ACTION:PROTO:ADDR:PORT, repeatable; replaces the Azure defaults
  --exempt-cgroup DIR      extra cgroup v2 directory whose processes are not redirected; repeatable
  --log-level LEVEL        debug, info, warn, error (default info)
)";
}

Invocation parse_agent_args(int argc, const char* const argv[]) {
  Invocation inv;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    std::string_view cmd = argv[i++];
    if (cmd == "run") inv.command = Command::kRun;
    else if (cmd == "uninstall") inv.command = Command::kUninstall;
    else if (cmd == "probe") inv.command = Command::kProbe;
    else if (cmd == "version") inv.command = Command::kVersion;
    else if (cmd == "help") inv.command = Command::kHelp;
    else throw std::invalid_argument("unknown command '" + std::string(cmd) + "'; try 'podid-agent help'");
  }
  // Flags first gathered as name -> values, so the environment fills only what the command line left out.
  std::map<std::string, std::vector<std::string>> flags;
  static const char* kKnown[] = {"cgroup-path", "bpffs", "pin-name", "listen", "listen6", "ops-listen",
                                 "conn-table-size", "max-entry-age-ms", "target", "exempt-cgroup",
                                 "log-level"};
  auto known = [](const std::string& name) {
    for (const char* k : kKnown) if (name == k) return true;
    return false;
  };
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") { inv.command = Command::kHelp; return inv; }
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) throw std::invalid_argument("--" + name + " needs a value");
      value = argv[++i];
    }
    if (!known(name)) throw std::invalid_argument("unknown flag --" + name + "; try 'podid-agent help'");
    flags[name].push_back(value);
  }
  for (const char* k : kKnown) {
    if (flags.count(k)) continue;
    std::string env = "PODID_";
    for (const char* c = k; *c; ++c) env.push_back(*c == '-' ? '_' : static_cast<char>(std::toupper(*c)));
    if (const char* v = std::getenv(env.c_str()); v && *v) flags[k].push_back(v);
  }

  AgentConfig& c = inv.config;
  for (const auto& [name, values] : flags) {
    const std::string& v = values.back();
    const std::string flag = "--" + name;
    if (name == "cgroup-path") c.cgroup_path = v;
    else if (name == "bpffs") c.bpffs = v;
    else if (name == "pin-name") {
      if (v.empty() || v.find('/') != std::string::npos || v == "." || v == "..")
        throw std::invalid_argument(flag + ": '" + v + "' must be a plain directory name");
      c.pin_name = v;
    } else if (name == "listen") {
      std::tie(c.listen_address, c.listen_port) = parse_endpoint(flag, v);
      if (c.listen_address.find(':') != std::string::npos) throw std::invalid_argument(flag + " must be IPv4");
    } else if (name == "listen6") {
      // Same port as --listen: the kernel rewrites every redirect to one agent port.
      if (v.find(':') == std::string::npos || !is_ip_literal(v)) throw std::invalid_argument(flag + ": '" + v + "' is not an IPv6 address");
      c.listen_address6 = v;
    } else if (name == "ops-listen") {
      std::tie(c.ops_address, c.ops_port) = parse_endpoint(flag, v);
    } else if (name == "conn-table-size") {
      c.conn_table_size = static_cast<uint32_t>(parse_uint(flag, v, 1u << 24));
      if (c.conn_table_size == 0) throw std::invalid_argument(flag + " must be at least 1");
    } else if (name == "max-entry-age-ms") {
      c.max_entry_age = std::chrono::milliseconds(parse_uint(flag, v, 600000));
    } else if (name == "target") {
      c.targets.clear();
      for (const auto& spec : values) c.targets.push_back(TargetRule::parse(spec));
    } else if (name == "exempt-cgroup") {
      for (const auto& dir : values) c.exempt_cgroups.emplace_back(dir);
    } else if (name == "log-level") {
      if (v != "debug" && v != "info" && v != "warn" && v != "error")
        throw std::invalid_argument(flag + ": '" + v + "' is not debug, info, warn or error");
      c.log_level = v;
    }
  }
  if (c.listen_port == 0) throw std::invalid_argument("--listen: port 0 is not allowed (the kernel redirects to it)");
  return inv;
}

}  // namespace podid::agent
