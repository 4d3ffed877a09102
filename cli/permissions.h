// SPDX-License-Identifier: Apache-2.0
//
// ARM's permissions API as doctor reads it: `GET {scope}/providers/Microsoft.Authorization/permissions
// ?api-version=2022-04-01` lists, for the caller, one entry per role assignment in force at the scope (at it or
// above), each with the role definition's `actions` and `notActions`. An action is permitted when one entry has
// an `actions` pattern matching it and no `notActions` pattern of that same entry matching it (notActions
// subtract within their role, not across roles). Pure.
//
// Patterns: ASCII case-insensitive; `*` matches any run of characters, and a `/*/` segment also matches a
// single `/` (the Managed Identity Operator role grants `.../userAssignedIdentities/*/assign/action`, which is
// what authorises `.../userAssignedIdentities/assign/action`).
//
// Errors: parse_permissions returns Result (EINVAL naming what is missing) for a body of another shape.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "podid/result.h"

namespace podid::cli {

inline constexpr std::string_view kPermissionsApiVersion = "2022-04-01";
inline constexpr std::string_view kAssignIdentityAction = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
inline constexpr std::string_view kWriteScaleSetAction = "Microsoft.Compute/virtualMachineScaleSets/write";
inline constexpr std::string_view kWriteVirtualMachineAction = "Microsoft.Compute/virtualMachines/write";

struct Permission {
  std::vector<std::string> actions, not_actions;
};

Result<std::vector<Permission>> parse_permissions(const nlohmann::json& body);
bool action_matches(std::string_view pattern, std::string_view action);
bool permits(const std::vector<Permission>& permissions, std::string_view action);

}  // namespace podid::cli
