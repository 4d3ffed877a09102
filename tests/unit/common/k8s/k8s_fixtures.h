// SPDX-License-Identifier: Apache-2.0
//
// Kubernetes-shaped test data for the scripted server: objects, list pages, watch event lines, and query
// parameters read back from the requests the client sent.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podid/http/query.h"

namespace podid::testing {

inline nlohmann::json pod(const std::string& name, const std::string& rv) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
          {"spec", {{"nodeName", "node-1"}}}};
}

inline std::string list_body(std::vector<nlohmann::json> items, const std::string& rv,
                             const std::string& continue_token = "") {
  nlohmann::json metadata = {{"resourceVersion", rv}};
  if (!continue_token.empty()) metadata["continue"] = continue_token;
  return nlohmann::json{{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", metadata}, {"items", items}}.dump();
}

inline std::string event_line(const std::string& type, const nlohmann::json& object) {
  return nlohmann::json{{"type", type}, {"object", object}}.dump() + "\n";
}

inline nlohmann::json bookmark(const std::string& rv) {
  return {{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}};
}

inline nlohmann::json status(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"code", code},     {"reason", reason},   {"message", message}};
}

inline std::string percent_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// The decoded value of `key` in a request target's query, nullopt if absent.
inline std::optional<std::string> query_param(std::string_view target, std::string_view key) {
  auto raw = http::query_value(target, key);
  if (!raw) return std::nullopt;
  return percent_decode(*raw);
}

inline std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace podid::testing
