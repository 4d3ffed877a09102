// SPDX-License-Identifier: Apache-2.0
#include "podid/crd/workload_identity.h"

#include "podid/ascii.h"
#include "podid/error.h"

namespace podid::crd {
namespace {

constexpr std::string_view kServiceAccountIdentityPrefix = "serviceaccount/";

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Annotations written by hand often carry a trailing newline (YAML `|`); Entra would refuse the id with it.
std::string trimmed(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string string_at(const nlohmann::json& object, const nlohmann::json::json_pointer& where) {
  const nlohmann::json* v = object.contains(where) ? &object.at(where) : nullptr;
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

std::string service_account_subject(std::string_view ns, std::string_view name) {
  return "system:serviceaccount:" + std::string(ns) + ":" + std::string(name);
}

bool wants_workload_identity(const PodInfo& pod) {
  auto it = pod.labels.find(kWorkloadIdentityUseLabel);
  return it != pod.labels.end() && it->second == "true";
}

Result<WorkloadServiceAccount> parse_service_account(const nlohmann::json& object) {
  using nlohmann::json;
  if (!object.is_object()) return invalid_argument("ServiceAccount: expected a JSON object");
  WorkloadServiceAccount sa;
  sa.ns = string_at(object, "/metadata/namespace"_json_pointer);
  sa.name = string_at(object, "/metadata/name"_json_pointer);
  sa.resource_version = string_at(object, "/metadata/resourceVersion"_json_pointer);
  if (sa.ns.empty() || sa.name.empty()) {
    return invalid_argument("ServiceAccount " + object_key(object) + ": metadata.name and namespace are required");
  }
  const json* annotations = object.contains("/metadata/annotations"_json_pointer)
                                ? &object.at("/metadata/annotations"_json_pointer)
                                : nullptr;
  if (annotations != nullptr && annotations->is_object()) {
    auto read = [&](std::string_view key) -> Result<std::string> {
      auto it = annotations->find(std::string(key));
      if (it == annotations->end() || it->is_null()) return std::string();
      if (!it->is_string()) {
        return invalid_argument("ServiceAccount " + sa.ns + "/" + sa.name + ": metadata.annotations[" +
                                std::string(key) + "]: expected a string");
      }
      return trimmed(it->get_ref<const std::string&>());
    };
    auto client = read(kWorkloadIdentityClientIdAnnotation);
    if (!client) return client.error();
    auto tenant = read(kWorkloadIdentityTenantIdAnnotation);
    if (!tenant) return tenant.error();
    sa.client_id = std::move(*client);
    sa.tenant_id = std::move(*tenant);
  }
  return sa;
}

AzureIdentity workload_identity_of(const WorkloadServiceAccount& account) {
  AzureIdentity id;
  id.ns = account.ns;
  id.name = std::string(kServiceAccountIdentityPrefix) + account.name;
  id.resource_version = account.resource_version;
  id.type = IdentityType::kUserAssigned;
  id.client_id = account.client_id;
  id.tenant_id = account.tenant_id;
  id.federated = true;
  return id;
}

bool is_service_account_identity(const AzureIdentity& identity) {
  return identity.name.starts_with(kServiceAccountIdentityPrefix);
}

std::string federated_condition_message(const AzureIdentity& identity) {
  return "AzureIdentity " + identity.ns + "/" + identity.name + " is federated (" + std::string(kFederatedAnnotation) +
         "): pods get its tokens by exchanging their own service-account token at Entra ID, so it is not put on any "
         "scale set. Each pod's service account needs a federated identity credential on client id " +
         identity.client_id + " (see docs/troubleshooting.md#federated-identities).";
}

}  // namespace podid::crd
