// SPDX-License-Identifier: Apache-2.0
//
// `podid doctor`'s checks of federated identities: a pod gets a federated identity's token only if Entra ID
// finds, on that identity, a federated identity credential whose issuer is the cluster's OIDC issuer (compared
// exactly: a trailing slash matters), whose subject is the pod's service account
// (system:serviceaccount:NS:SA) and whose audiences hold the token audience the agent asks for
// (api://AzureADTokenExchange). An identity holds at most 20 credentials.
//
// Which identities, and which service accounts each needs:
//   - an AzureIdentity annotated podid.io/federated: "true" (type 0, with its resourceID): the service accounts
//     of the live pods bound to it (the agent's own bound_identities);
//   - Azure Workload Identity's convention: a live pod labelled azure.workload.identity/use=true runs as a
//     service account annotated azure.workload.identity/client-id. The identity is the AzureIdentity (type 0)
//     with that client id; with none, ARM cannot be asked by client id alone and the finding says how to look.
//
// Pure, as arm_checks.h: plan_federated_checks says what to read (one
// GET {identity}/federatedIdentityCredentials per distinct identity), federated_findings judges the answers.
// Codes: FederatedCredentialMissing, FederatedCredentialWrongSubject, FederatedCredentialWrongIssuer,
// FederatedCredentialWrongAudience, FederatedCredentialLimit, FederatedIdentityUnknown, OidcIssuerUnknown, and
// ArmReadDenied / ArmCheckFailed for answers that could not be read.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cli/arm_checks.h"
#include "cli/cluster_checks.h"
#include "cli/cluster_view.h"
#include "cli/findings.h"

namespace podid::cli {

inline constexpr std::string_view kFederatedCredentialsApiVersion = "2023-01-31";
inline constexpr size_t kMaxFederatedCredentials = 20;
inline constexpr std::string_view kTokenExchangeAudience = "api://AzureADTokenExchange";

struct FederatedCheck {
  std::string object;                 // "AzureIdentity ns/name"
  std::string resource_id;            // the user-assigned identity
  std::vector<std::string> subjects;  // system:serviceaccount:NS:SA, sorted, distinct
};

struct FederatedPlan {
  std::vector<FederatedCheck> checks;  // one per distinct identity (canonical resource id)
  std::vector<Finding> unresolved;     // FederatedIdentityUnknown: a client id no AzureIdentity names
};

FederatedPlan plan_federated_checks(const ClusterView& view, const DoctorPolicy& policy);

// The path of an identity's federated credentials list, for ArmReader::get.
std::string federated_credentials_path(std::string_view identity_id);

// `issuer`: the cluster's OIDC issuer; empty when it could not be learned (issuers are then not compared, and
// OidcIssuerUnknown says so). `answers`: by canonical resource id.
std::vector<Finding> federated_findings(const FederatedPlan& plan, const std::map<std::string, ArmAnswer>& answers,
                                        const std::string& issuer, const std::string& issuer_unknown_because,
                                        const std::string& principal_id);

}  // namespace podid::cli
