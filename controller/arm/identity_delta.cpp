// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/identity_delta.h"

#include <map>
#include <set>
#include <string_view>

#include "controller/arm/resource_id.h"

namespace podid::controller::arm {
namespace {

using nlohmann::json;

Error invalid(std::string context) { return {std::make_error_code(std::errc::invalid_argument), std::move(context)}; }

struct Current {
  bool system_assigned = false;
  std::map<std::string, std::string> user;  // key -> id as ARM spells it
};

Result<Current> parse_current(const json& identity) {
  Current cur;
  if (identity.is_null()) return cur;
  if (!identity.is_object()) return invalid("identity: not an object");
  std::string type = "None";
  if (auto it = identity.find("type"); it != identity.end() && !it->is_null()) {
    if (!it->is_string()) return invalid("identity.type: not a string");
    type = it->get<std::string>();
  }
  // Accept "SystemAssigned, UserAssigned" and "SystemAssigned,UserAssigned" in any case.
  std::string t;
  for (char c : type) {
    if (c != ' ') t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  bool user_assigned = false;
  if (t == "none" || t.empty()) {
  } else if (t == "systemassigned") {
    cur.system_assigned = true;
  } else if (t == "userassigned") {
    user_assigned = true;
  } else if (t == "systemassigned,userassigned") {
    cur.system_assigned = user_assigned = true;
  } else {
    return invalid("identity.type: unknown value '" + type + "'");
  }
  auto uai = identity.find("userAssignedIdentities");
  if (uai == identity.end() || uai->is_null()) return cur;
  if (!uai->is_object()) return invalid("identity.userAssignedIdentities: not an object");
  // A dictionary next to a type without UserAssigned is not what ARM returns; trust the type.
  if (!user_assigned) return cur;
  for (const auto& [id, _] : uai->items()) cur.user.emplace(canonical_key(id), id);
  return cur;
}

// key -> id as first written; rejects ids that are not user-assigned identities.
Result<std::map<std::string, std::string>> id_set(const std::vector<std::string>& ids, std::string_view what) {
  std::map<std::string, std::string> out;
  for (const auto& id : ids) {
    auto parsed = parse_identity_id(id);
    if (!parsed) return parsed.error().wrap(std::string(what));
    out.emplace(canonical_key(id), id);
  }
  return out;
}

}  // namespace

Result<IdentityDelta> compute_identity_delta(const IdentityDeltaInput& in, std::size_t max_entries) {
  if (max_entries == 0) return invalid("max_entries must be positive");
  auto cur = parse_current(in.current);
  if (!cur) return cur.error();
  auto desired = id_set(in.desired, "desired");
  if (!desired) return desired.error();
  auto ledger = id_set(in.ledger, "ledger");
  if (!ledger) return ledger.error();
  auto immutable = id_set(in.immutable, "immutable");
  if (!immutable) return immutable.error();

  IdentityDelta out;
  for (const auto& [key, id] : *desired) {
    if (!cur->user.contains(key)) out.added.push_back(id);
  }
  for (const auto& [key, id] : cur->user) {
    if (ledger->contains(key) && !desired->contains(key) && !immutable->contains(key)) out.removed.push_back(id);
  }

  // Entries in send order: adds ({}), then removes (null).
  std::vector<std::pair<std::string, bool>> entries;  // id, add?
  for (const auto& id : out.added) entries.emplace_back(id, true);
  for (const auto& id : out.removed) entries.emplace_back(id, false);

  std::size_t remaining = cur->user.size();
  for (std::size_t begin = 0; begin < entries.size(); begin += max_entries) {
    std::size_t end = std::min(entries.size(), begin + max_entries);
    json dict = json::object();
    for (std::size_t i = begin; i < end; ++i) {
      if (entries[i].second) {
        dict[entries[i].first] = json::object();
        ++remaining;
      } else {
        dict[entries[i].first] = nullptr;
        --remaining;
      }
    }
    json identity;
    if (remaining == 0) {
      // Last UAMI gone: type alone, no dictionary (§5.3). Only the final body can get here, since adds come first.
      identity["type"] = cur->system_assigned ? "SystemAssigned" : "None";
    } else {
      identity["type"] = cur->system_assigned ? "SystemAssigned, UserAssigned" : "UserAssigned";
      identity["userAssignedIdentities"] = std::move(dict);
    }
    out.bodies.push_back(json{{"identity", std::move(identity)}});
  }
  return out;
}

}  // namespace podid::controller::arm
