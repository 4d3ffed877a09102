// SPDX-License-Identifier: Apache-2.0
//
// Fakes for the reconciler tests: an ARM that keeps an identity block per scale set / VM and applies PATCHes
// with ARM's merge semantics and validation (azure-wire-formats.md §5.3-§5.5), failing with ARM's own error
// bodies; and a ledger that can fail.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/arm/arm_client.h"
#include "controller/arm/arm_errors.h"
#include "controller/arm/resource_id.h"
#include "controller/reconcile/ledger.h"
#include "podid/ascii.h"

namespace podid::controller::testing {

using nlohmann::json;

// An ARM outcome for an error body, parsed by the real parser (so the reconciler sees what it would in prod).
inline arm::ArmOutcome arm_failure(unsigned status, const std::string& body, unsigned calls = 1) {
  arm::ArmOutcome out;
  out.status = status;
  auto parsed = arm::parse_arm_error(body);
  if (parsed)
    out.error = *parsed;
  else
    out.detail = "unparseable error body";
  out.request_id = "req-" + std::to_string(status);
  out.calls = calls;
  return out;
}

inline std::string authorization_failed_body(const std::string& compute_id) {
  return R"({"error":{"code":"AuthorizationFailed","message":"The client 'app-guid' with object id 'oid-guid' does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' over scope ')" +
         compute_id +
         R"(' or the scope is invalid. If access was recently granted, please refresh your credentials."}})";
}

inline std::string linked_authorization_failed_body(const std::string& compute_id,
                                                    const std::vector<std::string>& ids) {
  std::string scopes;
  for (const auto& id : ids) scopes += (scopes.empty() ? "" : ",") + id;
  return R"({"error":{"code":"LinkedAuthorizationFailed","message":"The client 'app-guid' with object id 'oid-guid' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope ')" +
         compute_id +
         R"('; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) ')" +
         scopes + R"(' or the linked scope(s) are invalid."}})";
}

inline std::string failed_identity_operation_body(const std::string& compute_id, const std::string& missing_id) {
  return R"({"error":{"code":"FailedIdentityOperation","message":"Identity operation for resource ')" + compute_id +
         R"(' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource ')" +
         missing_id + R"(' was not found.\"}}'.'."}})";
}

inline const std::string kThrottledBody =
    R"({"error":{"code":"OperationNotAllowed","message":"The server rejected the request because too many requests have been received for this subscription.","details":[{"code":"TooManyRequests","target":"HighCostGet30Min","message":"{\"operationGroup\":\"HighCostGet30Min\",\"startTime\":\"2018-06-29T19:54:21.0914017+00:00\",\"endTime\":\"2018-06-29T20:14:21.0914017+00:00\",\"allowedRequestCount\":800,\"measuredRequestCount\":1238}"}]}})";

inline arm::ArmOutcome throttled(std::chrono::seconds retry_after) {
  auto out = arm_failure(429, kThrottledBody);
  out.retry_after = retry_after;
  return out;
}

// An asynchronous operation that ended Failed: the PATCH was accepted, the final poll said Failed.
inline arm::ArmOutcome operation_preempted() {
  auto out = arm_failure(
      200,
      R"({"code":"OperationPreempted","message":"Operation execution has been preempted by a more recent operation."})",
      2);
  return out;
}

inline arm::ArmOutcome transport_failure() {
  arm::ArmOutcome out;
  out.detail = "connect: connection refused";
  return out;
}

class FakeArmClient final : public arm::ArmClient {
 public:
  // A user-assigned identity that exists in Azure (others are "not found"), with its client id.
  void create_identity(const std::string& id, const std::string& client_id) {
    identities_[arm::canonical_key(id)] = client_id;
  }
  // Our principal lacks Managed Identity Operator on `id`.
  void deny_assign(const std::string& id) { denied_.insert(arm::canonical_key(id)); }

  // A compute with the given identity type and user-assigned ids (as ARM spells them; they must exist).
  void put_compute(const arm::ResourceId& compute, const std::string& type, const std::vector<std::string>& ids = {},
                   const std::string& provisioning_state = "Succeeded") {
    State s;
    s.system_assigned = type.find("SystemAssigned") != std::string::npos;
    for (const auto& id : ids) s.user[arm::canonical_key(id)] = id;
    s.provisioning_state = provisioning_state;
    computes_[compute.key()] = s;
    raw_identity_.erase(compute.key());
  }
  // Replaces the identity block GET returns with `identity` verbatim (malformed-answer tests).
  void set_raw_identity(const arm::ResourceId& compute, json identity) { raw_identity_[compute.key()] = identity; }

  // The user-assigned ids on `compute`, as stored.
  std::vector<std::string> ids_on(const arm::ResourceId& compute) const {
    std::vector<std::string> out;
    for (const auto& [_, id] : computes_.at(compute.key()).user) out.push_back(id);
    return out;
  }
  bool system_assigned(const arm::ResourceId& compute) const { return computes_.at(compute.key()).system_assigned; }

  // Outcomes returned, in order, by the next calls instead of doing the work. For PATCH, `apply` says whether
  // the change lands before the scripted failure is returned (an async failure after partial work).
  void fail_next_get(arm::ArmOutcome out) { get_failures_.push_back(std::move(out)); }
  void fail_next_patch(arm::ArmOutcome out, bool apply = false) { patch_failures_.push_back({std::move(out), apply}); }
  // FailedIdentityOperation reported as a failed asynchronous operation (status 200 + error) instead of a 400.
  bool identity_errors_async = false;
  // A successful PATCH answers without the resource body (a client that skipped its final GET).
  bool patch_without_resource = false;

  std::function<void(const json& body)> on_patch;  // called with each PATCH body before it is applied
  std::vector<json> patch_bodies;
  unsigned gets = 0;
  unsigned patches = 0;

  boost::asio::awaitable<arm::ArmOutcome> get(const arm::ResourceId& compute) override { co_return do_get(compute); }
  boost::asio::awaitable<arm::ArmOutcome> patch(const arm::ResourceId& compute, const json& body) override {
    co_return do_patch(compute, body);
  }

 private:
  struct State {
    bool system_assigned = false;
    std::map<std::string, std::string> user;  // key -> id as stored
    std::string provisioning_state = "Succeeded";
  };
  struct ScriptedPatch {
    arm::ArmOutcome out;
    bool apply;
  };

  json resource(const arm::ResourceId& compute, const State& s) const {
    json identity;
    if (auto raw = raw_identity_.find(compute.key()); raw != raw_identity_.end()) {
      identity = raw->second;
    } else {
      const bool ua = !s.user.empty();
      identity["type"] =
          s.system_assigned ? (ua ? "SystemAssigned, UserAssigned" : "SystemAssigned") : (ua ? "UserAssigned" : "None");
      if (s.system_assigned) {
        identity["principalId"] = "sys-principal";
        identity["tenantId"] = "tenant";
      }
      if (ua) {
        json dict = json::object();
        for (const auto& [key, id] : s.user) {
          dict[id] = {{"principalId", "p-" + key.substr(key.rfind('/') + 1)}, {"clientId", identities_.at(key)}};
        }
        identity["userAssignedIdentities"] = dict;
      }
    }
    return {{"id", compute.id()},
            {"name", compute.name},
            {"identity", identity},
            {"properties", {{"provisioningState", s.provisioning_state}}}};
  }

  arm::ArmOutcome not_found(const arm::ResourceId& compute) const {
    return arm_failure(
        404,
        R"({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Compute/virtualMachineScaleSets/)" +
            compute.name + "' under resource group '" + compute.resource_group + R"(' was not found."}})");
  }

  arm::ArmOutcome invalid_parameter(const std::string& message) const {
    return arm_failure(400, json{{"error", {{"code", "InvalidParameter"}, {"message", message}}}}.dump());
  }

  arm::ArmOutcome do_get(const arm::ResourceId& compute) {
    ++gets;
    if (!get_failures_.empty()) {
      auto out = std::move(get_failures_.front());
      get_failures_.pop_front();
      return out;
    }
    auto it = computes_.find(compute.key());
    if (it == computes_.end()) return not_found(compute);
    arm::ArmOutcome out;
    out.status = 200;
    out.calls = 1;
    out.request_id = "req-get";
    out.resource = resource(compute, it->second);
    return out;
  }

  arm::ArmOutcome do_patch(const arm::ResourceId& compute, const json& body) {
    ++patches;
    patch_bodies.push_back(body);
    if (on_patch) on_patch(body);
    std::optional<ScriptedPatch> scripted;
    if (!patch_failures_.empty()) {
      scripted = std::move(patch_failures_.front());
      patch_failures_.pop_front();
      if (!scripted->apply) return scripted->out;
    }
    auto out = apply(compute, body);
    if (scripted) return scripted->out;
    return out;
  }

  // PATCH with ARM's rules: merge on the dictionary, type rules, 150 per request, role and existence checks.
  arm::ArmOutcome apply(const arm::ResourceId& compute, const json& body) {
    auto it = computes_.find(compute.key());
    if (it == computes_.end()) return not_found(compute);
    State& s = it->second;
    if (ascii::iequals(s.provisioning_state, "Deleting")) {
      return arm_failure(
          409,
          R"({"error":{"code":"OperationNotAllowed","message":"Operation 'Update Virtual Machine Scale Set' is not allowed on Virtual Machine Scale Set ')" +
              compute.name + R"(' since it is marked for deletion."}})");
    }
    if (!body.is_object() || !body.contains("identity") || !body["identity"].is_object()) {
      return invalid_parameter("identity: required");
    }
    const json& identity = body["identity"];
    if (!identity.contains("type") || !identity["type"].is_string())
      return invalid_parameter("identity.type: required");
    std::string type;
    for (char c : identity["type"].get<std::string>()) {
      if (c != ' ') type += ascii::lower(c);
    }
    bool system = false, user = false;
    if (type == "systemassigned")
      system = true;
    else if (type == "userassigned")
      user = true;
    else if (type == "systemassigned,userassigned")
      system = user = true;
    else if (type != "none")
      return invalid_parameter("identity.type: unknown");

    auto dict_it = identity.find("userAssignedIdentities");
    const bool has_dict = dict_it != identity.end() && !dict_it->is_null();
    if (!user) {
      if (has_dict)
        return invalid_parameter("a non-UserAssigned identity type should not contain: userAssignedIdentities");
      s.system_assigned = system;
      s.user.clear();
      return succeeded(compute, s);
    }
    if (!has_dict || !dict_it->is_object()) {
      return invalid_parameter("The identity ids must not be null or empty for 'UserAssigned' identity type.");
    }
    if (dict_it->size() > 150) {
      return invalid_parameter("User Assigned Identities Number '" + std::to_string(dict_it->size()) +
                               "' Assign exceed limit '150' in one request");
    }
    std::vector<std::string> denied, missing;
    for (const auto& [id, v] : dict_it->items()) {
      if (!v.is_null() && !(v.is_object() && v.empty()))
        return invalid_parameter("entry for '" + id + "': not {} or null");
      if (v.is_null()) continue;
      const std::string key = arm::canonical_key(id);
      if (denied_.contains(key)) denied.push_back(id);
      if (!identities_.contains(key)) missing.push_back(id);
    }
    if (!denied.empty()) return arm_failure(403, linked_authorization_failed_body(compute.id(), denied));
    if (!missing.empty()) {
      // ARM names the first identity it could not find.
      auto out = arm_failure(400, failed_identity_operation_body(compute.id(), missing.front()));
      if (identity_errors_async) {
        out.status = 200;
        out.calls = 2;
      }
      return out;
    }
    auto next = s.user;
    for (const auto& [id, v] : dict_it->items()) {
      const std::string key = arm::canonical_key(id);
      if (v.is_null())
        next.erase(key);
      else
        next.emplace(key, id);  // an id already present keeps its stored spelling
    }
    if (next.empty()) {
      return invalid_parameter("The identity ids must not be null or empty for 'UserAssigned' identity type.");
    }
    s.user = std::move(next);
    s.system_assigned = system;
    return succeeded(compute, s);
  }

  arm::ArmOutcome succeeded(const arm::ResourceId& compute, const State& s) const {
    arm::ArmOutcome out;
    out.status = 200;
    out.calls = 3;  // PATCH, one poll, the final GET
    out.request_id = "req-patch";
    if (!patch_without_resource) out.resource = resource(compute, s);
    return out;
  }

  std::map<std::string, std::string> identities_;  // key -> client id
  std::set<std::string> denied_;
  std::map<std::string, State> computes_;
  std::map<std::string, json> raw_identity_;
  std::deque<arm::ArmOutcome> get_failures_;
  std::deque<ScriptedPatch> patch_failures_;
};

class FakeLedger final : public Ledger {
 public:
  std::map<std::string, std::vector<std::string>> records;  // compute key -> ids as stored
  bool fail_load = false;
  bool fail_store = false;
  unsigned loads = 0;
  unsigned stores = 0;

  std::vector<std::string> ids(const arm::ResourceId& compute) const {
    auto it = records.find(compute.key());
    return it == records.end() ? std::vector<std::string>{} : it->second;
  }

  boost::asio::awaitable<Result<std::vector<std::string>>> load(const arm::ResourceId& compute) override {
    ++loads;
    if (fail_load) co_return Error{std::make_error_code(std::errc::io_error), "configmap get: 500"};
    co_return ids(compute);
  }

  boost::asio::awaitable<Status> store(const arm::ResourceId& compute, std::vector<std::string> ids) override {
    ++stores;
    if (fail_store) co_return Error{std::make_error_code(std::errc::io_error), "configmap update: 409 conflict"};
    if (ids.empty())
      records.erase(compute.key());
    else
      records[compute.key()] = std::move(ids);
    co_return Status{};
  }
};

}  // namespace podid::controller::testing
