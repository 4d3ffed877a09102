// SPDX-License-Identifier: Apache-2.0
//
// Azure Workload Identity's conventions, which podid honours without its webhook (reference
// landscape-2026.md §1.1): a pod labelled `azure.workload.identity/use: "true"` runs as a service account
// annotated `azure.workload.identity/client-id` (and optionally `.../tenant-id`), and gets that identity's
// token through the exchange of its service-account token. Also what podid-controller says about a federated
// AzureIdentity (crd_types.h kFederatedAnnotation), which it never puts on a scale set.
//
// Errors: parse_service_account returns Result (EINVAL naming the object and field), like crd_types.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "podid/crd/crd_types.h"
#include "podid/result.h"

namespace podid::crd {

inline constexpr std::string_view kWorkloadIdentityUseLabel = "azure.workload.identity/use";
inline constexpr std::string_view kWorkloadIdentityClientIdAnnotation = "azure.workload.identity/client-id";
inline constexpr std::string_view kWorkloadIdentityTenantIdAnnotation = "azure.workload.identity/tenant-id";

// The one subject a Kubernetes service-account token carries: "system:serviceaccount:<namespace>:<name>".
std::string service_account_subject(std::string_view ns, std::string_view name);

// True when the pod asks for Azure Workload Identity (label value "true", as the webhook's objectSelector).
bool wants_workload_identity(const PodInfo& pod);

// What a ServiceAccount says for Azure Workload Identity: empty client_id when it says nothing.
struct WorkloadServiceAccount {
  std::string ns, name, resource_version;
  std::string client_id;  // annotation kWorkloadIdentityClientIdAnnotation, trimmed
  std::string tenant_id;  // annotation kWorkloadIdentityTenantIdAnnotation, trimmed; empty: the agent's default
};
Result<WorkloadServiceAccount> parse_service_account(const nlohmann::json& object);

// The federated AzureIdentity standing for what a service account's annotations say, as identity choice and the
// token path treat it: type 0, federated, named "serviceaccount/<sa>" in the account's namespace (a name no
// AzureIdentity can have, so the two never collide), tenant and authority possibly empty (the agent's defaults).
AzureIdentity workload_identity_of(const WorkloadServiceAccount& account);
// True for an identity made by workload_identity_of (no AzureIdentity object behind it).
bool is_service_account_identity(const AzureIdentity& identity);

// podid-controller's word on a federated identity, for the `Assigned` condition of its AzureIdentity and of each
// binding naming it (status True: nothing is missing; there is nothing to assign).
inline constexpr std::string_view kFederatedConditionReason = "Federated";
std::string federated_condition_message(const AzureIdentity& identity);

}  // namespace podid::crd
