// SPDX-License-Identifier: Apache-2.0
//
// What a failed federated exchange means and what its owner should do, from Entra ID's AADSTS code (reference
// landscape-2026.md §1.2): the pod's service account has no federated identity credential (70021, and the
// 700211/700212/700213 Entra answers today: the explanation names the issuer and subject Entra was shown and the
// exact `az ... federated-credential create` that fixes it), the assertion was rejected (expired, bad signature,
// issuer metadata unreachable), the client id or tenant is unknown. Throttling and 5xx keep their status and
// Retry-After and get no explanation: they are transient.
//
// Errors: none; pure functions over values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "podid/azure/access_token.h"

namespace podid::azure {

inline constexpr std::string_view kTokenExchangeAudience = "api://AzureADTokenExchange";

// Reasons (UpstreamFailure::reason) of the federated path. The token_request_* ones come from the assertion
// provider (the agent's TokenRequest client); the others from the exchange.
namespace federated_reason {
inline constexpr std::string_view kNoFederatedCredential = "no_federated_credential";
inline constexpr std::string_view kAssertionRejected = "assertion_rejected";
inline constexpr std::string_view kIssuerUnreachable = "issuer_metadata_unreachable";
inline constexpr std::string_view kUnknownClientId = "unknown_client_id";
inline constexpr std::string_view kUnknownTenant = "unknown_tenant";
inline constexpr std::string_view kExchangeRefused = "exchange_refused";
inline constexpr std::string_view kTokenRequestRefused = "token_request_refused";
inline constexpr std::string_view kTokenRequestUnavailable = "token_request_unavailable";
inline constexpr std::string_view kTokenRequestCredential = "token_request_credential_unavailable";
inline constexpr std::string_view kPodGone = "pod_gone";
}  // namespace federated_reason

// What the explanation of a failed exchange needs to say.
struct FederatedFacts {
  std::string issuer;    // the service-account token's `iss`, as Entra saw it; empty when unknown
  std::string subject;   // system:serviceaccount:<ns>:<sa>
  std::string audience;  // the service-account token's audience
  std::string client_id;
  std::string tenant_id;
  // ARM id of the managed identity, when known (a type 0 AzureIdentity's resourceID): names it and its resource
  // group in the az command; else placeholders.
  std::string identity_resource_id;
  bool app_registration = false;  // the client id is an app registration: `az ad app federated-credential`
  std::string origin;             // where the client id came from, for the message ("AzureIdentity ns/name")
};

// The AADSTS number of an Entra error body (`error_codes[0]`, else the number after "AADSTS" in the
// description), or nullopt.
std::optional<long> aadsts_code(std::string_view body);

// The failure with `reason` and `explanation` set for an Entra answer other than 200.
UpstreamFailure explain_exchange_failure(UpstreamFailure failure, const FederatedFacts& facts);

// The command that creates the credential a pod's exchange needs.
std::string federated_credential_command(const FederatedFacts& facts);

// A federated identity credential name derived from the subject: ARM's `^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`.
std::string federated_credential_name(std::string_view subject);

}  // namespace podid::azure
