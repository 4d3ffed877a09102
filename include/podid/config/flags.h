// SPDX-License-Identifier: Apache-2.0
//
// The command-line machinery both binaries share: one table of flags per binary, each flag also read from the
// environment as PODID_<FLAG> and from a JSON file (--config FILE, or PODID_CONFIG) whose keys are flag names.
// Precedence: flag, then environment, then file. Each binary keeps its own table and its own config struct;
// this file only gathers and converts values.
//
// Errors: start-up only, so everything here throws std::invalid_argument with a message naming the flag (or the
// file and key): the binaries print it and exit 2.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace podid::config {

using Values = std::vector<std::string>;

// One flag of a binary's table: its name (without "--") and how its value(s) land in Config. A repeatable flag
// receives every value given; any other receives the last.
template <class Config>
struct FlagSpec {
  const char* name;
  bool repeatable;
  std::function<void(Config&, const std::string& flag, const Values& values)> apply;
};

// Wraps a setter of one value for a non-repeatable flag.
template <class Config, class F>
std::function<void(Config&, const std::string&, const Values&)> last(F f) {
  return [f](Config& c, const std::string& flag, const Values& v) { f(c, flag, v.back()); };
}

// What gathering needs to know about a flag.
struct FlagName {
  std::string name;
  bool repeatable = false;
};

// Flags from argv[first, argc) ("--name value" or "--name=value"), then PODID_<NAME> for the flags not given,
// then the --config / PODID_CONFIG file for those still missing. `--help`/`-h` sets *help and stops.
// `program` names the binary in messages ("try 'podid-agent help'").
std::map<std::string, Values> gather_flags(int argc, const char* const argv[], int first,
                                           const std::vector<FlagName>& known, const std::string& program,
                                           bool* help);

// Applies gathered values through a binary's table, in table order.
template <class Config>
void apply_flags(const std::vector<FlagSpec<Config>>& specs, const std::map<std::string, Values>& flags,
                 Config& config) {
  for (const auto& spec : specs) {
    if (auto it = flags.find(spec.name); it != flags.end()) spec.apply(config, "--" + std::string(spec.name), it->second);
  }
}

template <class Config>
std::vector<FlagName> flag_names(const std::vector<FlagSpec<Config>>& specs) {
  std::vector<FlagName> out;
  for (const auto& s : specs) out.push_back({s.name, s.repeatable});
  return out;
}

// Value converters; each names the flag in its message.
uint64_t parse_uint(const std::string& flag, const std::string& value, uint64_t max);
bool parse_bool(const std::string& flag, const std::string& value);  // true/false, 1/0, on/off, yes/no
bool is_ip_literal(const std::string& text);
// "addr:port" or "[v6]:port", the address an IP literal.
std::pair<std::string, uint16_t> parse_endpoint(const std::string& flag, const std::string& value);
// "node-name" -> "PODID_NODE_NAME".
std::string env_name(const std::string& flag);

}  // namespace podid::config
