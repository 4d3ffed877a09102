// SPDX-License-Identifier: Apache-2.0
#include "podid/crd/crd_types.h"

#include <array>
#include <optional>

#include "podid/ascii.h"
#include "podid/error.h"

namespace podid::crd {
namespace {

using nlohmann::json;

// Reads one object, remembering the first problem so each parser reads like the manifest it parses and
// reports one precise error ("AzureIdentity ns/name: spec.clientID: expected a string").
class Reader {
 public:
  Reader(std::string_view kind, const json& object) : kind_(kind), key_(object_key(object)) {}

  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }

  void fail(std::string_view path, std::string_view why) {
    if (error_) return;
    std::string context(kind_);
    context.append(" ").append(key_).append(": ").append(path).append(": ").append(why);
    error_ = invalid_argument(std::move(context));
  }

  // A member of `parent`, nullptr when the parent or the member is absent or null. `exact` for metadata
  // (written by the API server); otherwise encoding/json's rule: the exact key, else the first key equal
  // to it ignoring case (how pre-1.6 PascalCase manifests were read).
  static const json* member(const json* parent, std::string_view name, bool exact) {
    if (parent == nullptr || !parent->is_object()) return nullptr;
    const json* found = nullptr;
    if (auto it = parent->find(std::string(name)); it != parent->end()) {
      found = &*it;
    } else if (!exact) {
      for (auto it2 = parent->begin(); it2 != parent->end(); ++it2) {
        if (ascii::iequals(it2.key(), name)) {
          found = &*it2;
          break;
        }
      }
    }
    return (found == nullptr || found->is_null()) ? nullptr : found;
  }

  std::string string(const json* parent, std::string_view name, std::string_view path, bool exact = false) {
    const json* v = member(parent, name, exact);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      fail(path, "expected a string");
      return {};
    }
    return v->get<std::string>();
  }

  const json* object(const json* parent, std::string_view name, std::string_view path, bool exact = false) {
    const json* v = member(parent, name, exact);
    if (v != nullptr && !v->is_object()) {
      fail(path, "expected an object");
      return nullptr;
    }
    return v;
  }

  bool boolean(const json* parent, std::string_view name, std::string_view path) {
    const json* v = member(parent, name, true);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      fail(path, "expected a boolean");
      return false;
    }
    return v->get<bool>();
  }

  std::vector<std::string> strings(const json* parent, std::string_view name, std::string_view path) {
    std::vector<std::string> out;
    const json* v = member(parent, name, false);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail(path, "expected a list of strings");
      return out;
    }
    for (const json& e : *v) {
      if (!e.is_string()) {
        fail(path, "expected a list of strings");
        return {};
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  // A string -> string map (labels, annotations, podLabels).
  Labels string_map(const json* parent, std::string_view name, std::string_view path, bool exact) {
    Labels out;
    const json* v = object(parent, name, path, exact);
    if (v == nullptr) return out;
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it->is_string()) {
        fail(std::string(path) + "." + it.key(), "expected a string");
        return {};
      }
      out.emplace(it.key(), it->get<std::string>());
    }
    return out;
  }

  struct Meta {
    std::string ns, name, resource_version, uid;
    Labels labels, annotations;
  };

  // metadata.name and metadata.namespace are required: every kind here is namespaced, and an object we
  // cannot name can be neither indexed nor reported usefully.
  Meta metadata(const json& object) {
    Meta m;
    if (!object.is_object()) {
      fail("(object)", "expected a JSON object");
      return m;
    }
    const json* md = this->object(&object, "metadata", "metadata", true);
    m.name = string(md, "name", "metadata.name", true);
    m.ns = string(md, "namespace", "metadata.namespace", true);
    m.resource_version = string(md, "resourceVersion", "metadata.resourceVersion", true);
    m.uid = string(md, "uid", "metadata.uid", true);
    m.labels = string_map(md, "labels", "metadata.labels", true);
    m.annotations = string_map(md, "annotations", "metadata.annotations", true);
    if (m.name.empty()) fail("metadata.name", "required");
    if (m.ns.empty()) fail("metadata.namespace", "required");
    return m;
  }

 private:
  std::string_view kind_;
  std::string key_;
  std::optional<Error> error_;
};

// spec.type: an integer, or (as some hand-written manifests have it) a numeric string. Absent means 0, the
// Go zero value the predecessor decoded it to.
IdentityType read_type(Reader& r, const json* spec) {
  const json* v = Reader::member(spec, "type", false);
  if (v == nullptr) return IdentityType::kUserAssigned;
  long long n = -1;
  if (v->is_number_integer()) {
    n = v->get<long long>();
  } else if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) {
      r.fail("spec.type", "expected 0, 1 or 2, got \"" + s + "\"");
      return IdentityType::kUserAssigned;
    }
    n = std::stoll(s);
  } else {
    r.fail("spec.type", "expected 0, 1 or 2");
    return IdentityType::kUserAssigned;
  }
  if (n < 0 || n > 2) {
    r.fail("spec.type", "expected 0, 1 or 2, got " + std::to_string(n));
    return IdentityType::kUserAssigned;
  }
  return static_cast<IdentityType>(n);
}

AssignedState read_state(std::string_view s) {
  if (s.empty()) return AssignedState::kNone;
  if (ascii::iequals(s, "Created")) return AssignedState::kCreated;
  if (ascii::iequals(s, "Assigned")) return AssignedState::kAssigned;
  if (ascii::iequals(s, "Unassigned")) return AssignedState::kUnassigned;
  return AssignedState::kUnknown;
}

}  // namespace

bool AzureIdentity::token_relevant_change_from(const AzureIdentity& before) const {
  return type != before.type || client_id != before.client_id || resource_id != before.resource_id ||
         tenant_id != before.tenant_id || ad_endpoint != before.ad_endpoint ||
         client_password != before.client_password || auxiliary_tenant_ids != before.auxiliary_tenant_ids ||
         federated != before.federated;
}

std::string object_key(const nlohmann::json& object) {
  auto part = [&](const char* field) -> std::string {
    if (!object.is_object()) return "?";
    auto md = object.find("metadata");
    if (md == object.end() || !md->is_object()) return "?";
    auto v = md->find(field);
    return (v != md->end() && v->is_string() && !v->get_ref<const std::string&>().empty()) ? v->get<std::string>()
                                                                                           : "?";
  };
  return part("namespace") + "/" + part("name");
}

bool is_user_assigned_resource_id(std::string_view id) {
  // Segments after the leading '/': literal, value, literal, value, literal, literal, literal, value.
  static constexpr std::array<std::string_view, 8> kShape = {
      "subscriptions",          "", "resourcegroups", "", "providers", "Microsoft.ManagedIdentity",
      "userAssignedIdentities", ""};
  if (id.empty() || id.front() != '/') return false;
  id.remove_prefix(1);
  for (size_t i = 0; i < kShape.size(); ++i) {
    size_t slash = id.find('/');
    bool last = i + 1 == kShape.size();
    if (last != (slash == std::string_view::npos)) return false;
    std::string_view seg = id.substr(0, slash);
    if (seg.empty()) return false;
    if (!kShape[i].empty() && !ascii::iequals(seg, kShape[i])) return false;
    if (!last) id.remove_prefix(slash + 1);
  }
  return true;
}

Result<AzureIdentity> parse_azure_identity(const nlohmann::json& object) {
  Reader r("AzureIdentity", object);
  auto meta = r.metadata(object);
  if (r.failed()) return r.error();
  const json* spec = r.object(&object, "spec", "spec", true);

  AzureIdentity id;
  id.ns = meta.ns;
  id.name = meta.name;
  id.resource_version = meta.resource_version;
  id.type = read_type(r, spec);
  id.resource_id = r.string(spec, "resourceID", "spec.resourceID");
  id.client_id = r.string(spec, "clientID", "spec.clientID");
  id.tenant_id = r.string(spec, "tenantID", "spec.tenantID");
  id.ad_endpoint = r.string(spec, "adEndpoint", "spec.adEndpoint");
  const json* pw = r.object(spec, "clientPassword", "spec.clientPassword");
  id.client_password.name = r.string(pw, "name", "spec.clientPassword.name");
  id.client_password.ns = r.string(pw, "namespace", "spec.clientPassword.namespace");
  // A SecretReference without a namespace would make the predecessor GET a secret in no namespace (a
  // failure at every request); the identity's own namespace is the only sensible reading.
  if (id.client_password.ns.empty() && !id.client_password.name.empty()) id.client_password.ns = id.ns;
  id.auxiliary_tenant_ids = r.strings(spec, "auxiliaryTenantIDs", "spec.auxiliaryTenantIDs");
  if (auto it = meta.annotations.find(kBehaviorAnnotation); it != meta.annotations.end()) {
    id.namespaced_behavior = ascii::iequals(it->second, "namespaced");
  }
  if (auto it = meta.annotations.find(kPrincipalIdAnnotation); it != meta.annotations.end()) {
    id.principal_id = ascii::lowered(it->second);
  }
  if (auto it = meta.annotations.find(kFederatedAnnotation); it != meta.annotations.end()) {
    if (!ascii::iequals(it->second, "true") && !ascii::iequals(it->second, "false")) {
      r.fail("metadata.annotations[" + std::string(kFederatedAnnotation) + "]",
             "expected \"true\" or \"false\", got \"" + it->second + "\"");
    }
    id.federated = ascii::iequals(it->second, "true");
  }
  if (r.failed()) return r.error();
  if (id.federated) {
    // The exchange needs the client id; the tenant may come from the agent's default (--federated-tenant-id),
    // and no secret is involved.
    if (id.client_id.empty()) r.fail("spec.clientID", "required for a federated identity");
    if (id.type == IdentityType::kServicePrincipalCertificate) {
      r.fail("spec.type", "a federated identity is type 0 (managed identity) or 1 (app registration), not 2");
    }
    if (!id.resource_id.empty() && !is_user_assigned_resource_id(id.resource_id)) {
      r.fail("spec.resourceID", "not a user-assigned identity resource id: \"" + id.resource_id + "\"");
    }
    if (r.failed()) return r.error();
    return id;
  }

  switch (id.type) {
    case IdentityType::kUserAssigned:
      if (id.client_id.empty()) r.fail("spec.clientID", "required for type 0 (user-assigned identity)");
      if (!id.resource_id.empty() && !is_user_assigned_resource_id(id.resource_id)) {
        r.fail("spec.resourceID", "not a user-assigned identity resource id: \"" + id.resource_id + "\"");
      }
      break;
    case IdentityType::kServicePrincipal:
    case IdentityType::kServicePrincipalCertificate:
      if (id.client_id.empty()) r.fail("spec.clientID", "required for a service principal (type 1 or 2)");
      if (id.tenant_id.empty()) r.fail("spec.tenantID", "required for a service principal (type 1 or 2)");
      if (id.client_password.name.empty()) {
        r.fail("spec.clientPassword.name", "required for a service principal (type 1 or 2)");
      }
      break;
  }
  if (r.failed()) return r.error();
  return id;
}

Result<AzureIdentityBinding> parse_azure_identity_binding(const nlohmann::json& object) {
  Reader r("AzureIdentityBinding", object);
  auto meta = r.metadata(object);
  if (r.failed()) return r.error();
  const json* spec = r.object(&object, "spec", "spec", true);

  AzureIdentityBinding b;
  b.ns = meta.ns;
  b.name = meta.name;
  b.resource_version = meta.resource_version;
  b.azure_identity = r.string(spec, "azureIdentity", "spec.azureIdentity");
  b.selector = r.string(spec, "selector", "spec.selector");
  if (r.failed()) return r.error();
  if (b.azure_identity.empty()) r.fail("spec.azureIdentity", "required");
  // An empty selector would bind every pod that lacks the label; refuse it rather than guess.
  if (b.selector.empty()) r.fail("spec.selector", "required");
  if (r.failed()) return r.error();
  return b;
}

Result<AzureAssignedIdentity> parse_azure_assigned_identity(const nlohmann::json& object) {
  Reader r("AzureAssignedIdentity", object);
  auto meta = r.metadata(object);
  if (r.failed()) return r.error();
  const json* spec = r.object(&object, "spec", "spec", true);

  AzureAssignedIdentity a;
  a.ns = meta.ns;
  a.name = meta.name;
  a.resource_version = meta.resource_version;
  a.pod = r.string(spec, "pod", "spec.pod");
  a.pod_namespace = r.string(spec, "podNamespace", "spec.podNamespace");
  a.node = r.string(spec, "nodename", "spec.nodename");
  const json* id_ref = r.object(spec, "azureIdentityRef", "spec.azureIdentityRef");
  const json* id_md = r.object(id_ref, "metadata", "spec.azureIdentityRef.metadata", true);
  const json* id_spec = r.object(id_ref, "spec", "spec.azureIdentityRef.spec", true);
  a.identity_ns = r.string(id_md, "namespace", "spec.azureIdentityRef.metadata.namespace", true);
  a.identity_name = r.string(id_md, "name", "spec.azureIdentityRef.metadata.name", true);
  a.identity_client_id = r.string(id_spec, "clientID", "spec.azureIdentityRef.spec.clientID");
  a.identity_resource_id = r.string(id_spec, "resourceID", "spec.azureIdentityRef.spec.resourceID");
  const json* binding_ref = r.object(spec, "azureBindingRef", "spec.azureBindingRef");
  const json* binding_md = r.object(binding_ref, "metadata", "spec.azureBindingRef.metadata", true);
  a.binding_name = r.string(binding_md, "name", "spec.azureBindingRef.metadata.name", true);
  const json* status = r.object(&object, "status", "status", true);
  a.state = read_state(r.string(status, "status", "status.status"));
  if (r.failed()) return r.error();
  if (a.pod.empty()) r.fail("spec.pod", "required");
  if (a.pod_namespace.empty()) r.fail("spec.podNamespace", "required");
  if (a.identity_name.empty()) r.fail("spec.azureIdentityRef.metadata.name", "required");
  if (a.identity_ns.empty()) r.fail("spec.azureIdentityRef.metadata.namespace", "required");
  if (r.failed()) return r.error();
  return a;
}

Result<AzurePodIdentityException> parse_azure_pod_identity_exception(const nlohmann::json& object) {
  Reader r("AzurePodIdentityException", object);
  auto meta = r.metadata(object);
  if (r.failed()) return r.error();
  const json* spec = r.object(&object, "spec", "spec", true);

  AzurePodIdentityException e;
  e.ns = meta.ns;
  e.name = meta.name;
  e.resource_version = meta.resource_version;
  e.pod_labels = r.string_map(spec, "podLabels", "spec.podLabels", false);
  if (r.failed()) return r.error();
  return e;
}

Result<PodInfo> parse_pod(const nlohmann::json& object) {
  Reader r("Pod", object);
  auto meta = r.metadata(object);
  if (r.failed()) return r.error();
  const json* spec = r.object(&object, "spec", "spec", true);
  const json* status = r.object(&object, "status", "status", true);

  PodInfo p;
  p.uid = meta.uid;
  p.ns = meta.ns;
  p.name = meta.name;
  p.labels = std::move(meta.labels);
  p.node = r.string(spec, "nodeName", "spec.nodeName", true);
  p.host_network = r.boolean(spec, "hostNetwork", "spec.hostNetwork");
  p.service_account = r.string(spec, "serviceAccountName", "spec.serviceAccountName", true);
  if (p.service_account.empty()) p.service_account = r.string(spec, "serviceAccount", "spec.serviceAccount", true);
  p.phase = r.string(status, "phase", "status.phase", true);
  auto add_ip = [&](std::string ip) {
    if (ip.empty()) return;
    for (const auto& have : p.pod_ips) {
      if (have == ip) return;
    }
    p.pod_ips.push_back(std::move(ip));
  };
  add_ip(r.string(status, "podIP", "status.podIP", true));
  if (const json* ips = Reader::member(status, "podIPs", true)) {
    if (!ips->is_array()) {
      r.fail("status.podIPs", "expected a list");
    } else {
      for (const json& e : *ips) add_ip(r.string(&e, "ip", "status.podIPs[].ip", true));
    }
  }
  if (r.failed()) return r.error();
  return p;
}

}  // namespace podid::crd
