// SPDX-License-Identifier: Apache-2.0
//
// The aadpodidentity.k8s.io/v1 objects and the pod facts that identity choice reads, as plain structs, and
// the parsers that turn API-server JSON into them. Drop-in compatibility with aad-pod-identity is the point:
// the field names, the pre-1.6 spellings and the accepted-but-ignored fields follow it (reference §3).
//
// Errors: every parser returns Result<T>. A malformed or invalid object is an Error with
// errc::invalid_argument and a context naming the object and the field ("AzureIdentity team-a/web:
// spec.clientID: required for type 0"); callers skip such objects and report them, they never throw.
//
// Spelling of spec fields: before v1.6 the predecessor decoded case-insensitively, so manifests used
// `ClientID`, `ResourceID`, `Selector`... Spec fields are therefore looked up as Go's encoding/json does:
// the exact camelCase key wins; otherwise the first key (in byte order) equal to it ignoring ASCII case.
// metadata is written by the API server and is read exactly.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "podid/result.h"

namespace podid::crd {

// The pod label whose value picks bindings (`spec.selector`), as in aad-pod-identity.
inline constexpr std::string_view kBindingLabel = "aadpodidbinding";
// Per-identity namespaced matching; the value is compared case-insensitively against "namespaced".
inline constexpr std::string_view kBehaviorAnnotation = "aadpodidentity.k8s.io/Behavior";
// podid extension: the identity's Entra object (principal) id, so requests naming `object_id` can be matched
// before any token for the identity has been fetched (the token layer also learns it from the `oid` claim).
inline constexpr std::string_view kPrincipalIdAnnotation = "podid.io/principal-id";
// podid extension: the identity is federated. Its tokens come from Entra ID in exchange for a token of the calling
// pod's own service account (the identity needs a federated identity credential for that service account);
// nothing is assigned to scale sets, so podid-controller leaves it alone. An annotation, not a new spec.type, so
// the predecessor's CRD schema, its validation and the objects of clusters migrating from it stay valid. Value
// "true" (any ASCII case); types 0 (a managed identity) and 1 (an app registration) may carry it.
inline constexpr std::string_view kFederatedAnnotation = "podid.io/federated";
// What adEndpoint means when empty, for types 1 and 2 (public cloud; sovereign clouds set it explicitly).
inline constexpr std::string_view kDefaultAdEndpoint = "https://login.microsoftonline.com/";

// Labels with heterogeneous lookup, so the per-request path finds keys without building strings.
using Labels = std::map<std::string, std::string, std::less<>>;

enum class IdentityType : int {
  kUserAssigned = 0,                 // user-assigned managed identity, token from the upstream IMDS
  kServicePrincipal = 1,             // client secret in a Secret (its single data value)
  kServicePrincipalCertificate = 2,  // PKCS#12 `certificate` + `password` keys in a Secret
};

struct SecretRef {
  std::string name;
  std::string ns;  // defaulted to the identity's namespace when the manifest leaves it empty
  bool operator==(const SecretRef&) const = default;
};

struct AzureIdentity {
  std::string ns, name, resource_version;
  IdentityType type = IdentityType::kUserAssigned;
  std::string resource_id;  // type 0; empty or well-formed (see is_user_assigned_resource_id)
  std::string client_id;
  std::string tenant_id;      // types 1 and 2
  std::string ad_endpoint;    // as written; empty means kDefaultAdEndpoint (the token layer applies it)
  SecretRef client_password;  // types 1 and 2
  std::vector<std::string> auxiliary_tenant_ids;  // type 1 multi-tenant
  bool namespaced_behavior = false;               // annotation kBehaviorAnnotation == "namespaced"
  // Entra object id, lower-case; empty when unknown. From kPrincipalIdAnnotation, or learned by the store
  // from a token (IdentityStore::learn_principal_id), which wins over the annotation when both exist.
  std::string principal_id;
  // kFederatedAnnotation is "true": tokens by exchanging the calling pod's service-account token (client_id,
  // tenant_id and ad_endpoint say where); a type 1 identity then needs no clientPassword.
  bool federated = false;
  // adResourceID, replicas and status are accepted and ignored, as they were by the predecessor.

  // True when a token minted for `before` may differ from one minted for this: the fields a TokenSource and
  // the token cache key depend on. resourceVersion, annotations and principal id do not count.
  bool token_relevant_change_from(const AzureIdentity& before) const;
};

struct AzureIdentityBinding {
  std::string ns, name, resource_version;
  std::string azure_identity;  // name of an AzureIdentity in the binding's namespace
  std::string selector;        // matches the pod label kBindingLabel exactly (never empty here)
  // spec.weight is accepted and ignored: no code of the predecessor ever read it.
};

// status.status. Absent = objects MIC wrote before states existed; the predecessor served those as assigned.
enum class AssignedState { kNone, kCreated, kAssigned, kUnassigned, kUnknown };

struct AzureAssignedIdentity {
  std::string ns, name, resource_version;
  std::string pod, pod_namespace;
  std::string node;  // spec.nodename (lower-case key, as MIC writes it)
  // From the embedded spec.azureIdentityRef: which identity, and its client/resource id when MIC assigned it.
  std::string identity_ns, identity_name, identity_client_id, identity_resource_id;
  std::string binding_name;  // spec.azureBindingRef.metadata.name
  AssignedState state = AssignedState::kNone;
};

struct AzurePodIdentityException {
  std::string ns, name, resource_version;
  Labels pod_labels;  // a pod in `ns` matching any one key=value (value ignoring case) is excepted
};

// What identity choice needs to know about the calling pod.
struct PodInfo {
  std::string uid, ns, name, node;
  Labels labels;
  std::vector<std::string> pod_ips;  // status.podIP first, then the rest of status.podIPs[].ip, no repeats
  bool host_network = false;
  std::string phase;            // Pending, Running, Succeeded, Failed, Unknown
  std::string service_account;  // spec.serviceAccountName
};

Result<AzureIdentity> parse_azure_identity(const nlohmann::json& object);
Result<AzureIdentityBinding> parse_azure_identity_binding(const nlohmann::json& object);
Result<AzureAssignedIdentity> parse_azure_assigned_identity(const nlohmann::json& object);
Result<AzurePodIdentityException> parse_azure_pod_identity_exception(const nlohmann::json& object);
Result<PodInfo> parse_pod(const nlohmann::json& object);

// `/subscriptions/<s>/resourcegroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`,
// literal segments compared ignoring case (ARM ids are case-insensitive), variable segments non-empty and
// without '/'. The same shape MIC and the predecessor's Gatekeeper template enforced.
bool is_user_assigned_resource_id(std::string_view id);

// "ns/name" of any object from its metadata, "?" for what is missing; for error contexts and reports.
std::string object_key(const nlohmann::json& object);

}  // namespace podid::crd
