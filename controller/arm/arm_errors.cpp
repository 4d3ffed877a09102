// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/arm_errors.h"

#include <set>

#include <nlohmann/json.hpp>

#include "controller/arm/resource_id.h"

namespace podid::controller::arm {
namespace {

using nlohmann::json;

Error invalid(std::string context) { return {std::make_error_code(std::errc::invalid_argument), std::move(context)}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The text between the quotes that follow `marker` (case-insensitive): "... object id '<oid>' ..." -> <oid>.
std::string quoted_after(std::string_view msg, std::string_view marker) {
  auto pos = lower(msg).find(lower(marker));
  if (pos == std::string::npos) return "";
  auto open = msg.find('\'', pos + marker.size());
  if (open == std::string_view::npos) return "";
  auto close = msg.find('\'', open + 1);
  if (close == std::string_view::npos) return "";
  return std::string(msg.substr(open + 1, close - open - 1));
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Every "/subscriptions/..." run in the text up to a quote, comma, space or backslash that parses as a
// user-assigned identity id. Same reach as aad-pod-identity's (?i) regex, without its character-class limits.
void find_identities(std::string_view msg, std::vector<std::string>& out, std::set<std::string>& seen) {
  const std::string low = lower(msg);
  for (auto pos = low.find("/subscriptions/"); pos != std::string::npos; pos = low.find("/subscriptions/", pos + 1)) {
    auto end = msg.find_first_of("'\", \\", pos);
    auto candidate = msg.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    // A trailing '.' ends a sentence ("Resource '<id>' was not found." is quoted, but be safe).
    while (!candidate.empty() && candidate.back() == '.') candidate.remove_suffix(1);
    if (parse_identity_id(candidate).ok() && seen.insert(canonical_key(candidate)).second) {
      out.emplace_back(candidate);
    }
  }
}

Result<ArmError> parse_object(const json& obj, int depth, std::set<std::string>& seen) {
  if (depth > 8) return invalid("ARM error: details nested too deep");
  if (!obj.is_object()) return invalid("ARM error: not an object");
  const json* e = &obj;
  if (auto it = obj.find("error"); it != obj.end() && it->is_object()) e = &*it;
  auto str = [&](const char* name) -> std::string {
    auto it = e->find(name);
    return it != e->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ArmError out;
  out.code = str("code");
  out.message = str("message");
  out.target = str("target");
  if (out.code.empty()) return invalid("ARM error: no code");

  const std::string& m = out.message;
  out.client_id = quoted_after(m, "The client ");
  out.principal = quoted_after(m, "with object id ");
  if (out.code == "AuthorizationFailed") {
    out.action = quoted_after(m, "authorization to perform action ");
    if (auto s = quoted_after(m, "over scope "); !s.empty()) out.scopes.push_back(s);
  } else if (out.code == "LinkedAuthorizationFailed") {
    out.action = quoted_after(m, "does not have permission to perform action ");
    out.scopes = split_commas(quoted_after(m, "on the linked scope(s) "));
  }
  find_identities(m, out.identities, seen);

  if (auto it = e->find("details"); it != e->end() && it->is_array()) {
    for (const auto& d : *it) {
      auto detail = parse_object(d, depth + 1, seen);
      if (!detail) return detail.error().wrap("ARM error detail");
      for (auto& id : detail->identities) out.identities.push_back(id);
      out.details.push_back(std::move(*detail));
    }
  }
  return out;
}

std::string role_for(std::string_view action) {
  const std::string a = lower(action);
  if (a.starts_with("microsoft.managedidentity/")) return "Managed Identity Operator";
  if (a.starts_with("microsoft.compute/")) return "Virtual Machine Contributor";
  return "";
}

}  // namespace

bool ArmError::is_authorization_failure() const {
  return code == "AuthorizationFailed" || code == "LinkedAuthorizationFailed";
}

bool ArmError::retry_without_identities() const {
  return code == "LinkedAuthorizationFailed" || code == "FailedIdentityOperation";
}

std::string ArmError::remedy() const {
  std::string out;
  if (is_authorization_failure()) {
    const std::string& assignee = principal.empty() ? client_id : principal;
    const std::string role = role_for(action);
    if (!assignee.empty() && !role.empty()) {
      for (const auto& scope : scopes) {
        if (!out.empty()) out += '\n';
        out += "az role assignment create --assignee " + assignee + " --role \"" + role + "\" --scope " + scope;
      }
    }
  }
  for (const auto& d : details) {
    auto r = d.remedy();
    if (!r.empty()) out += (out.empty() ? "" : "\n") + r;
  }
  return out;
}

Result<ArmError> parse_arm_error(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid("ARM error: body is not JSON");
  std::set<std::string> seen;
  return parse_object(j, 0, seen);
}

}  // namespace podid::controller::arm
