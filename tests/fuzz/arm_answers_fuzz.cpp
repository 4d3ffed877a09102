// SPDX-License-Identifier: Apache-2.0
//
// ARM's answers to the controller (controller/arm/): an error body (parse_arm_error, the identities to set aside
// and the remedy it builds), and the `identity` block of a scale set or VM it GETs, from which the PATCH bodies
// are computed (compute_identity_delta). Input: one JSON body, read both ways.
//
// Properties:
//   - the identities an error names are user-assigned identity ids, each once (ignoring case), and a remedy is
//     only offered for an authorization failure;
//   - the PATCH bodies never remove an identity the ledger does not hold, a desired one or an immutable one;
//     applied in order to what ARM holds, they leave exactly (held + desired) - removed; no body has more than
//     max_entries entries; a body without a dictionary comes last.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/arm/arm_errors.h"
#include "controller/arm/identity_delta.h"
#include "controller/arm/resource_id.h"
#include "fuzz_check.h"

namespace {

using namespace podid::controller::arm;
using nlohmann::json;

const std::string kSub =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/";

void check_error(std::string_view body) {
  auto error = parse_arm_error(body);
  if (!error) return;
  std::set<std::string> seen;
  for (const auto& id : error->identities) {
    FUZZ_CHECK(parse_identity_id(id).ok(), "an error names an identity that is not a user-assigned identity id");
    FUZZ_CHECK(seen.insert(canonical_key(id)).second, "an error names an identity twice");
  }
  std::string remedy = error->remedy();
  if (!remedy.empty()) {
    bool authorization = error->is_authorization_failure();
    for (const auto& d : error->details) authorization = authorization || d.is_authorization_failure();
    FUZZ_CHECK(authorization || error->details.size() > 0, "a remedy for an error that is no authorization failure");
    FUZZ_CHECK(remedy.starts_with("az role assignment create --assignee "), "a remedy that is not an az command");
  }
}

std::set<std::string> keys(const std::vector<std::string>& ids) {
  std::set<std::string> out;
  for (const auto& id : ids) out.insert(canonical_key(id));
  return out;
}

// What ARM holds: the user-assigned identities of an identity block, by canonical key.
std::set<std::string> held(const json& identity) {
  std::set<std::string> out;
  if (!identity.is_object()) return out;
  auto uai = identity.find("userAssignedIdentities");
  if (uai == identity.end() || !uai->is_object()) return out;
  for (const auto& [id, ignored] : uai->items()) out.insert(canonical_key(id));
  return out;
}

void check_delta(const json& current, size_t max_entries) {
  IdentityDeltaInput in{.current = current,
                        .desired = {kSub + "a", kSub + "b", kSub + "C"},
                        .ledger = {kSub + "c", kSub + "d", kSub + "e"},
                        .immutable = {kSub + "E"}};
  auto delta = compute_identity_delta(in, max_entries);
  if (!delta) return;
  auto desired = keys(in.desired), ledger = keys(in.ledger), immutable = keys(in.immutable);
  for (const auto& id : delta->removed) {
    auto key = canonical_key(id);
    FUZZ_CHECK(ledger.count(key) && !desired.count(key) && !immutable.count(key),
               "a PATCH removes an identity not in the ledger, desired or immutable");
  }
  for (const auto& id : delta->added)
    FUZZ_CHECK(desired.count(canonical_key(id)), "a PATCH adds an undesired identity");

  // The type says which identities ARM keeps: without UserAssigned, none (the dictionary is ignored).
  std::string type = current.is_object() && current.contains("type") && current["type"].is_string()
                         ? current["type"].get<std::string>()
                         : "";
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::set<std::string> model =
      type.find("userassigned") != std::string::npos ? held(current) : std::set<std::string>{};
  std::set<std::string> expected = model;
  expected.insert(desired.begin(), desired.end());
  for (const auto& id : delta->removed) expected.erase(canonical_key(id));

  for (size_t i = 0; i < delta->bodies.size(); ++i) {
    const json& identity = delta->bodies[i]["identity"];
    auto dict = identity.find("userAssignedIdentities");
    if (dict == identity.end()) {
      FUZZ_CHECK(i + 1 == delta->bodies.size(), "a body that drops every identity is not the last");
      model.clear();
      continue;
    }
    FUZZ_CHECK(dict->size() <= max_entries, "a PATCH body over max_entries");
    for (const auto& [id, value] : dict->items()) {
      if (value.is_null()) {
        model.erase(canonical_key(id));
      } else {
        model.insert(canonical_key(id));
      }
    }
  }
  FUZZ_CHECK(model == expected, "the PATCH bodies do not leave (held + desired) - removed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check_error(body);
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return 0;
  const json& current = parsed.is_object() && parsed.contains("identity") ? parsed["identity"] : parsed;
  for (size_t max_entries : {size_t{2}, kMaxEntriesPerPatch}) check_delta(current, max_entries);
  return 0;
}
