// SPDX-License-Identifier: Apache-2.0
//
// ARM error bodies ({"error":{"code","message","target"?,"details"?}} or the unwrapped object) parsed into what
// the reconciler acts on: which user-assigned identities to drop from a PATCH and retry without
// (LinkedAuthorizationFailed, FailedIdentityOperation), and for authorization failures the role assignment that
// fixes them. Pure, no I/O. Message shapes: azure-wire-formats.md §5.3 and §5.5.
//
// Errors: Result<T> with std::errc::invalid_argument when the body is not JSON or has no error code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "podid/result.h"

namespace podid::controller::arm {

struct ArmError {
  std::string code;
  std::string message;
  std::string target;
  std::vector<ArmError> details;

  // User-assigned identity ids named in this message and in every detail, as written, deduplicated
  // case-insensitively, in order of appearance. Other ids (the VMSS itself) are not included.
  std::vector<std::string> identities;

  // From "The client '<app>' with object id '<oid>' ..." (AuthorizationFailed, LinkedAuthorizationFailed).
  std::string client_id;            // app id
  std::string principal;            // object id
  std::string action;               // the action denied (for Linked: the one on the linked scopes)
  std::vector<std::string> scopes;  // where it was denied (for Linked: the linked scopes)

  bool is_authorization_failure() const;
  // LinkedAuthorizationFailed or FailedIdentityOperation: retry without `identities` (aad-pod-identity §2.8).
  bool retry_without_identities() const;

  // The az command(s), one per line, that grant the missing permission; "" when this is not an authorization
  // failure or the message did not name the principal and scope.
  //   az role assignment create --assignee <oid> --role "Virtual Machine Contributor" --scope <vmss or vm>
  //   az role assignment create --assignee <oid> --role "Managed Identity Operator" --scope <uami id>
  std::string remedy() const;
};

Result<ArmError> parse_arm_error(std::string_view body);

}  // namespace podid::controller::arm
