// SPDX-License-Identifier: Apache-2.0
//
// The Azure-side checks of `podid doctor`, split so the decisions are pure:
//   plan_arm_checks   what to ask ARM, from the cluster view: one GET per distinct user-assigned identity id, one
//                     permissions call per distinct scope (each identity's id; each scale set or VM that runs a
//                     pod bound to an identity, from the controller's own desired state). That is the bound:
//                     identities + identities + computes calls, whatever the number of nodes or pods.
//   arm_findings      the findings, from the plan and ARM's answers (ArmFacts).
// The reading itself is arm_reader.h.
//
// Checked with the caller's credentials, which must be the controller's (its azure.json): the permissions API
// answers for the caller. Codes: IdentityNotFoundInAzure, ClientIdMismatch, MissingAssignPermission,
// MissingComputeWritePermission, ArmReadDenied, ArmCheckFailed.
// Federated identities need no role (the controller never assigns them): their credentials are checked by
// federated_checks.h, whose reads (one list per identity) run in the same pool (ArmPlan::federated_ids).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cluster_checks.h"
#include "cli/cluster_view.h"
#include "cli/findings.h"

namespace podid::cli {

inline constexpr std::string_view kIdentityApiVersion = "2023-01-31";
inline constexpr std::string_view kComputeApiVersion = "2024-07-01";

struct IdentityCheck {
  std::string ns, name;  // the AzureIdentity
  std::string resource_id, client_id;
};

enum class ScopeKind { kIdentity, kScaleSet, kVirtualMachine };

struct ScopeCheck {
  ScopeKind kind = ScopeKind::kIdentity;
  std::string scope;   // the ARM id asked about
  std::string action;  // what the controller must be allowed there
  std::string role;    // the built-in role that grants it
  std::string role_scope;  // where the fix assigns that role (the identity; a compute's resource group)
  std::vector<std::string> needed_for;  // "ns/name" of the AzureIdentities that need it
};

struct ArmPlan {
  std::vector<IdentityCheck> identities;  // every type-0 AzureIdentity with a well-formed resource id
  std::vector<ScopeCheck> scopes;         // distinct by canonical id
  std::vector<std::string> identity_ids() const;  // distinct resource ids to GET
  std::vector<std::string> federated_ids;         // distinct identities whose federated credentials to list
};

ArmPlan plan_arm_checks(const ClusterView& view, const DoctorPolicy& policy);

// One ARM answer: status 0 when there was none (`failure` says why).
struct ArmAnswer {
  unsigned status = 0;
  nlohmann::json body;
  std::string error_code, error_message;  // from ARM's error envelope, when it sent one
  std::string failure;                    // transport failure, or a token that could not be had
};

struct ArmFacts {
  std::map<std::string, ArmAnswer> identities;   // by canonical id (arm::canonical_key)
  std::map<std::string, ArmAnswer> permissions;  // by canonical scope
  std::map<std::string, ArmAnswer> federated;    // federated credential lists, by canonical identity id
  std::string principal_id;  // the caller's object id (its token's oid), for the fix commands
};

std::vector<Finding> arm_findings(const ArmPlan& plan, const ArmFacts& facts);

}  // namespace podid::cli
