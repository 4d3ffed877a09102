// SPDX-License-Identifier: Apache-2.0
#include "cli/arm_checks.h"

#include <algorithm>
#include <set>

#include "cli/kubectl_commands.h"
#include "cli/permissions.h"
#include "controller/arm/resource_id.h"
#include "podid/ascii.h"

namespace podid::cli {
namespace {

namespace arm = controller::arm;

constexpr std::string_view kOperatorRole = "Managed Identity Operator";
constexpr std::string_view kVmContributorRole = "Virtual Machine Contributor";

std::string resource_group_id(const arm::ResourceId& id) {
  return "/subscriptions/" + id.subscription + "/resourceGroups/" + id.resource_group;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// "HTTP 500 InternalServerError: message" or the transport failure.
std::string describe(const ArmAnswer& a) {
  if (a.status == 0) return a.failure.empty() ? "no answer" : a.failure;
  std::string out = "HTTP " + std::to_string(a.status);
  if (!a.error_code.empty()) out += " " + a.error_code;
  if (!a.error_message.empty()) out += ": " + a.error_message;
  return out;
}

Finding failed(const std::string& object, const std::string& what, const ArmAnswer& a) {
  return {Severity::kError, "ArmCheckFailed", object, "could not " + what + ": " + describe(a), ""};
}

void identity_findings(const ArmPlan& plan, const ArmFacts& facts, std::vector<Finding>& out) {
  for (const auto& check : plan.identities) {
    const std::string object = "AzureIdentity " + check.ns + "/" + check.name;
    auto it = facts.identities.find(arm::canonical_key(check.resource_id));
    if (it == facts.identities.end()) continue;
    const ArmAnswer& a = it->second;
    if (a.status == 404) {
      auto id = arm::parse_identity_id(check.resource_id);
      out.push_back({Severity::kError, "IdentityNotFoundInAzure", object,
                     "the user-assigned identity " + check.resource_id +
                         " does not exist (deleted, or the resource id is wrong): no pod can get a token for it, "
                         "and the controller cannot put it on a scale set",
                     id ? "az identity create --resource-group " + shell_quote(id->resource_group) + " --name " +
                              shell_quote(id->name) + " --subscription " + shell_quote(id->subscription) +
                              "   # then set spec.clientID to its new client id"
                        : std::string()});
    } else if (a.status == 403) {
      out.push_back({Severity::kError, "ArmReadDenied", object,
                     "the controller's principal may not read " + check.resource_id + " (" + describe(a) +
                         "); Managed Identity Operator on the identity grants it, and assign/action with it",
                     az_role_assignment(facts.principal_id, kOperatorRole, check.resource_id)});
    } else if (a.status == 200) {
      std::string actual;
      if (auto p = a.body.find("properties"); p != a.body.end() && p->is_object()) {
        if (auto c = p->find("clientId"); c != p->end() && c->is_string()) actual = c->get<std::string>();
      }
      if (!actual.empty() && !ascii::iequals(actual, check.client_id)) {
        out.push_back({Severity::kError, "ClientIdMismatch", object,
                       "spec.clientID is " + check.client_id + " but the identity " + check.resource_id +
                           " has client id " + actual +
                           ": tokens are asked for by client id, so pods would get another identity's token or none",
                       kubectl_merge_patch("azureidentity", check.ns, check.name, {{"spec", {{"clientID", actual}}}})});
      }
    } else {
      out.push_back(failed(object, "read " + check.resource_id, a));
    }
  }
}

void permission_findings(const ArmPlan& plan, const ArmFacts& facts, std::vector<Finding>& out) {
  for (const auto& check : plan.scopes) {
    auto it = facts.permissions.find(arm::canonical_key(check.scope));
    if (it == facts.permissions.end()) continue;
    const ArmAnswer& a = it->second;
    const bool identity = check.kind == ScopeKind::kIdentity;
    const std::string object = identity ? "AzureIdentity " + join(check.needed_for)
                                        : (check.kind == ScopeKind::kScaleSet ? "ScaleSet " : "VM ") + check.scope;
    if (a.status != 200) {
      out.push_back(failed(object, "read the controller's permissions at " + check.scope, a));
      continue;
    }
    auto permissions = parse_permissions(a.body);
    if (!permissions) {
      out.push_back({Severity::kError, "ArmCheckFailed", object,
                     "ARM's permissions answer for " + check.scope + " is unreadable: " + permissions.error().message(),
                     ""});
      continue;
    }
    if (permits(*permissions, check.action)) continue;
    std::string cause = identity ? "the controller's principal may not assign " + check.scope + " (no " +
                                       check.action + "): ARM refuses the scale set update with "
                                       "LinkedAuthorizationFailed, and pods bound to it get no token"
                                 : "the controller's principal may not update " + check.scope + " (no " +
                                       check.action + "), which runs pods bound to " + join(check.needed_for) +
                                       ": ARM refuses with AuthorizationFailed, and those pods get no token";
    out.push_back({Severity::kError, identity ? "MissingAssignPermission" : "MissingComputeWritePermission", object,
                   cause, az_role_assignment(facts.principal_id, check.role, check.role_scope)});
  }
}

}  // namespace

std::vector<std::string> ArmPlan::identity_ids() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& i : identities) {
    if (seen.insert(arm::canonical_key(i.resource_id)).second) out.push_back(i.resource_id);
  }
  return out;
}

ArmPlan plan_arm_checks(const ClusterView& view, const DoctorPolicy& policy) {
  ArmPlan plan;
  std::map<std::string, size_t> scope_index;  // canonical scope -> index in plan.scopes
  auto need = [&](ScopeCheck check, const std::string& identity) {
    auto [it, added] = scope_index.emplace(arm::canonical_key(check.scope), plan.scopes.size());
    if (added) plan.scopes.push_back(std::move(check));
    auto& list = plan.scopes[it->second].needed_for;
    if (std::find(list.begin(), list.end(), identity) == list.end()) list.push_back(identity);
  };
  const bool standard = policy.selection.mode == agent::Mode::kStandard;  // managed mode: no controller, no roles
  for (const auto& i : view.identities) {
    if (i.type != crd::IdentityType::kUserAssigned || !crd::is_user_assigned_resource_id(i.resource_id)) continue;
    plan.identities.push_back({i.ns, i.name, i.resource_id, i.client_id});
    if (standard && !i.federated) {
      need({ScopeKind::kIdentity, i.resource_id, std::string(kAssignIdentityAction), std::string(kOperatorRole),
            i.resource_id, {}},
           i.ns + "/" + i.name);
    }
  }
  if (!standard) return plan;
  const controller::ClusterSnapshot snapshot = desired_state_snapshot(view, policy);
  const controller::DesiredState desired = controller::compute_desired_state(snapshot);
  for (const auto& [key, compute] : desired.computes) {
    if (compute.identity_ids.empty()) continue;
    const bool vmss = compute.compute.kind == arm::ResourceKind::kScaleSet;
    ScopeCheck check{vmss ? ScopeKind::kScaleSet : ScopeKind::kVirtualMachine, compute.compute.id(),
                     std::string(vmss ? kWriteScaleSetAction : kWriteVirtualMachineAction),
                     std::string(kVmContributorRole), resource_group_id(compute.compute), {}};
    for (const auto& a : desired.assignments) {
      if (a.compute_key == key && a.needs_arm()) need(check, a.identity->object.ns + "/" + a.identity->object.name);
    }
  }
  return plan;
}

std::vector<Finding> arm_findings(const ArmPlan& plan, const ArmFacts& facts) {
  std::vector<Finding> out;
  identity_findings(plan, facts, out);
  permission_findings(plan, facts, out);
  return out;
}

}  // namespace podid::cli
