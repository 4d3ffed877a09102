// SPDX-License-Identifier: Apache-2.0
//
// The aadpodidentity.k8s.io/v1 objects and pods as both binaries parse them (include/podid/crd/crd_types.h), from
// any JSON. Input: the object's JSON text, given to all five parsers.
//
// Properties:
//   - an object that parses is named (namespace and name), a binding has a selector, a type-0 identity has a
//     client id and a resource id that is empty or a user-assigned identity id, a service principal has a
//     tenant, client id and secret name;
//   - camelCase and PascalCase read alike: renaming the spec fields to another casing (PascalCase, UPPER,
//     lower), which pre-1.6 manifests used, parses to the same object, unless two keys then differ only by case
//     (where the first in byte order wins, as in Go's encoding/json).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "podid/ascii.h"
#include "podid/crd/crd_types.h"

namespace {

using namespace podid::crd;
using nlohmann::json;

enum class Casing { kPascal, kUpper, kLower };

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string recased(std::string key, Casing casing) {
  for (size_t i = 0; i < key.size(); ++i) {
    if (casing == Casing::kUpper || (casing == Casing::kPascal && i == 0)) key[i] = upper(key[i]);
    if (casing == Casing::kLower) key[i] = podid::ascii::lower(key[i]);
  }
  return key;
}

// The spec field names the parsers read case-insensitively, and the objects among them whose fields are read
// the same way (podLabels is a map of labels: its keys are data, not field names).
constexpr std::string_view kFields[] = {
    "type",         "resourceID", "clientID",           "tenantID",        "adEndpoint", "clientPassword",
    "name",         "namespace",  "auxiliaryTenantIDs", "azureIdentity",   "selector",   "pod",
    "podNamespace", "nodename",   "azureIdentityRef",   "azureBindingRef", "podLabels"};
constexpr std::string_view kNestedFieldObjects[] = {"clientPassword", "azureIdentityRef", "azureBindingRef"};

bool is_field(std::string_view key) {
  for (auto f : kFields) {
    if (podid::ascii::iequals(key, f)) return true;
  }
  return false;
}

// `object` with its field names recased; false when that makes two keys of one object differ only by case.
bool recase_fields(json& object, Casing casing, int depth) {
  if (!object.is_object()) return true;
  json out = json::object();
  for (auto& [key, value] : object.items()) {
    std::string name = is_field(key) ? recased(key, casing) : key;
    bool nested = false;
    for (auto n : kNestedFieldObjects) nested = nested || podid::ascii::iequals(key, n);
    // Inside azureIdentityRef only `spec` holds fields (metadata is read exactly): recase below it too.
    if ((nested || (depth > 0 && key == "spec")) && !recase_fields(value, casing, depth + 1)) return false;
    for (auto& [other, ignored] : out.items()) {
      if (podid::ascii::iequals(other, name)) return false;
    }
    out[name] = std::move(value);
  }
  object = std::move(out);
  return true;
}

json describe(const AzureIdentity& i) {
  return {i.ns,
          i.name,
          i.resource_version,
          static_cast<int>(i.type),
          i.resource_id,
          i.client_id,
          i.tenant_id,
          i.ad_endpoint,
          i.client_password.name,
          i.client_password.ns,
          i.auxiliary_tenant_ids,
          i.namespaced_behavior,
          i.principal_id};
}
json describe(const AzureIdentityBinding& b) {
  return {b.ns, b.name, b.resource_version, b.azure_identity, b.selector};
}
json describe(const AzureAssignedIdentity& a) {
  return {a.ns,
          a.name,
          a.resource_version,
          a.pod,
          a.pod_namespace,
          a.node,
          a.identity_ns,
          a.identity_name,
          a.identity_client_id,
          a.identity_resource_id,
          a.binding_name,
          static_cast<int>(a.state)};
}
json describe(const AzurePodIdentityException& e) { return {e.ns, e.name, e.resource_version, e.pod_labels}; }

// What a parser made of `object`: the object, or the error's message.
template <class Parse>
json outcome(Parse parse, const json& object) {
  auto parsed = parse(object);
  if (!parsed) return json{{"error", parsed.error().message()}};
  return describe(*parsed);
}

template <class Parse>
void check_casing(Parse parse, const json& object) {
  json first = outcome(parse, object);
  if (first.contains("error")) return;  // an error names the key as written: casing shows in it
  for (Casing casing : {Casing::kPascal, Casing::kUpper, Casing::kLower}) {
    json variant = object;
    if (!variant.contains("spec") || !recase_fields(variant["spec"], casing, 0)) continue;
    FUZZ_CHECK(outcome(parse, variant) == first, "a recased manifest parses differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json object = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (object.is_discarded()) return 0;
  (void)object_key(object);

  if (auto id = parse_azure_identity(object)) {
    FUZZ_CHECK(!id->ns.empty() && !id->name.empty(), "an AzureIdentity without a namespace or name");
    FUZZ_CHECK(!id->client_id.empty(), "an AzureIdentity without a client id");
    if (id->type == IdentityType::kUserAssigned) {
      FUZZ_CHECK(id->resource_id.empty() || is_user_assigned_resource_id(id->resource_id),
                 "a type-0 AzureIdentity with a malformed resource id");
    } else {
      FUZZ_CHECK(!id->tenant_id.empty() && !id->client_password.name.empty() && !id->client_password.ns.empty(),
                 "a service principal without tenant or secret");
    }
  }
  if (auto binding = parse_azure_identity_binding(object)) {
    FUZZ_CHECK(!binding->selector.empty() && !binding->azure_identity.empty(),
               "a binding without selector or identity");
  }
  if (auto assigned = parse_azure_assigned_identity(object)) {
    FUZZ_CHECK(!assigned->pod.empty() && !assigned->pod_namespace.empty() && !assigned->identity_name.empty(),
               "an AzureAssignedIdentity without its pod or identity");
  }
  (void)parse_azure_pod_identity_exception(object);
  if (auto pod = parse_pod(object)) {
    for (size_t i = 0; i < pod->pod_ips.size(); ++i) {
      FUZZ_CHECK(!pod->pod_ips[i].empty(), "an empty pod IP");
      for (size_t j = i + 1; j < pod->pod_ips.size(); ++j)
        FUZZ_CHECK(pod->pod_ips[i] != pod->pod_ips[j], "a repeated pod IP");
    }
  }

  check_casing(parse_azure_identity, object);
  check_casing(parse_azure_identity_binding, object);
  check_casing(parse_azure_assigned_identity, object);
  check_casing(parse_azure_pod_identity_exception, object);
  return 0;
}
