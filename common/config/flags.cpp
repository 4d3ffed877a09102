// SPDX-License-Identifier: Apache-2.0
#include "podid/config/flags.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace podid::config {
namespace {

const FlagName* find(const std::vector<FlagName>& known, const std::string& name) {
  for (const auto& k : known) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// The JSON config file as flag name -> values. Scalars become one value; arrays only for repeatable flags.
std::map<std::string, Values> read_config_file(const std::string& path, const std::vector<FlagName>& known) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("--config: cannot read '" + path + "'");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument("--config '" + path + "': not JSON: " + e.what());
  }
  if (!doc.is_object()) throw std::invalid_argument("--config '" + path + "': the top level must be an object");
  std::map<std::string, Values> out;
  for (const auto& [key, value] : doc.items()) {
    const std::string where = "--config '" + path + "': key '" + key + "'";
    const FlagName* spec = find(known, key);
    if (!spec || key == "config") throw std::invalid_argument(where + ": unknown setting");
    auto scalar = [&](const nlohmann::json& v) -> std::string {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
      if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
      throw std::invalid_argument(where + ": expected a string, a boolean or a non-negative integer");
    };
    if (value.is_array()) {
      if (!spec->repeatable) throw std::invalid_argument(where + ": takes one value, not a list");
      if (value.empty()) throw std::invalid_argument(where + ": empty list");
      for (const auto& v : value) out[key].push_back(scalar(v));
    } else {
      out[key].push_back(scalar(value));
    }
  }
  return out;
}

}  // namespace

std::map<std::string, Values> gather_flags(int argc, const char* const argv[], int first,
                                           const std::vector<FlagName>& known, const std::string& program,
                                           bool* help) {
  // Gathered as name -> values first, so each lower-precedence source fills only what is still missing.
  std::map<std::string, Values> flags;
  std::string config_file;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return flags;
    }
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) throw std::invalid_argument("--" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "config") {
      config_file = value;
      continue;
    }
    if (!find(known, name)) throw std::invalid_argument("unknown flag --" + name + "; try '" + program + " help'");
    flags[name].push_back(value);
  }
  for (const auto& k : known) {
    if (flags.count(k.name)) continue;
    if (const char* v = std::getenv(env_name(k.name).c_str()); v && *v) flags[k.name].push_back(v);
  }
  if (config_file.empty()) {
    if (const char* v = std::getenv("PODID_CONFIG"); v && *v) config_file = v;
  }
  if (!config_file.empty()) {
    for (auto& [name, values] : read_config_file(config_file, known)) flags.try_emplace(name, std::move(values));
  }
  return flags;
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

bool parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "off" || v == "no") return false;
  throw std::invalid_argument(flag + ": '" + v + "' is not true or false");
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

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

std::string env_name(const std::string& flag) {
  std::string env = "PODID_";
  for (char c : flag) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env;
}

}  // namespace podid::config
