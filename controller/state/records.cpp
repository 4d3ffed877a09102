// SPDX-License-Identifier: Apache-2.0
#include "controller/state/records.h"

#include "controller/state/desired_state.h"

#include <openssl/evp.h>

#include <cstring>

namespace podid::controller {
namespace {

using nlohmann::json;

const json* member(const json& parent, std::string_view name) {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(name);
  return it == parent.end() || it->is_null() ? nullptr : &*it;
}

const json& metadata_of(const json& object) {
  static const json kEmpty = json::object();
  const json* md = member(object, "metadata");
  return md != nullptr && md->is_object() ? *md : kEmpty;
}

std::optional<std::string> string_in(const json& parent, std::string_view name) {
  const json* v = member(parent, name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

// metadata.<map>.<key>, when present as a string.
std::optional<std::string> metadata_entry(const json& object, std::string_view map, std::string_view key) {
  const json* m = member(metadata_of(object), map);
  return m != nullptr ? string_in(*m, key) : std::nullopt;
}

json without_managed_fields(const json& object) {
  json out = object;
  if (auto md = out.find("metadata"); md != out.end() && md->is_object()) md->erase("managedFields");
  return out;
}

// The length-prefixed encoding the digest is taken over: no two field lists encode alike.
class Encoder {
 public:
  void add(std::string_view s) {
    const auto n = static_cast<std::uint32_t>(s.size());
    char len[4];
    std::memcpy(len, &n, sizeof n);
    bytes_.append(len, sizeof len).append(s);
  }
  void add(const std::optional<std::string_view>& s) {
    bytes_.push_back(s ? '\1' : '\0');
    if (s) add(*s);
  }
  void add(bool b) { bytes_.push_back(b ? '\1' : '\0'); }
  void add(int i) { add(std::string_view(std::to_string(i))); }

  Digest digest() const {
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes_.data(), bytes_.size(), full, &len, EVP_sha256(), nullptr);
    Digest out{};
    std::memcpy(out.data(), full, out.size());
    return out;
  }

 private:
  std::string bytes_;
};

}  // namespace

std::string metadata_key(const json& object) {
  const json& md = metadata_of(object);
  std::string ns = string_in(md, "namespace").value_or("");
  std::string name = string_in(md, "name").value_or("");
  return ns.empty() ? name : ns + "/" + name;
}

Result<PodRecord> pod_record(const json& object) {
  auto parsed = crd::parse_pod(object);
  if (!parsed) return parsed.error();
  PodRecord p;
  p.ns = std::move(parsed->ns);
  p.name = std::move(parsed->name);
  p.uid = std::move(parsed->uid);
  p.node = std::move(parsed->node);
  if (auto label = parsed->labels.find(crd::kBindingLabel); label != parsed->labels.end()) {
    p.labelled = true;
    p.selector = label->second;
  }
  p.finished = parsed->phase == "Succeeded" || parsed->phase == "Failed";
  return p;
}

Result<NodeRecord> node_record(const json& object) {
  NodeRecord n;
  n.name = string_in(metadata_of(object), "name").value_or("");
  if (n.name.empty()) return Error{std::make_error_code(std::errc::invalid_argument), "Node: metadata.name missing"};
  const json* spec = member(object, "spec");
  if (spec != nullptr) n.provider_id = string_in(*spec, "providerID").value_or("");
  return n;
}

Result<std::shared_ptr<const IdentityRecord>> identity_record(const json& object) {
  auto parsed = crd::parse_azure_identity(object);
  if (!parsed) return parsed.error();
  return std::make_shared<const IdentityRecord>(
      IdentityRecord{std::move(parsed.value()), std::make_shared<const json>(without_managed_fields(object))});
}

Result<std::shared_ptr<const BindingRecord>> binding_record(const json& object) {
  auto parsed = crd::parse_azure_identity_binding(object);
  if (!parsed) return parsed.error();
  return std::make_shared<const BindingRecord>(
      BindingRecord{std::move(parsed.value()), std::make_shared<const json>(without_managed_fields(object))});
}

Result<AssignedRecord> assigned_record(const json& object) {
  auto parsed = crd::parse_azure_assigned_identity(object);
  if (!parsed) return parsed.error();
  AssignedRecord r;
  r.ns = std::move(parsed->ns);
  r.name = std::move(parsed->name);
  r.resource_version = std::move(parsed->resource_version);
  r.pod = std::move(parsed->pod);
  r.pod_namespace = std::move(parsed->pod_namespace);
  r.node = std::move(parsed->node);
  r.state = parsed->state;
  if (auto compute = metadata_entry(object, "annotations", kComputeAnnotation)) r.compute = intern(*compute);
  r.pod_uid = metadata_entry(object, "labels", kPodUidLabel).value_or("");
  const json& md = metadata_of(object);
  r.deleting = member(md, "deletionTimestamp") != nullptr;
  if (const json* finalizers = member(md, "finalizers"); finalizers != nullptr && finalizers->is_array()) {
    for (std::size_t i = 0; i < finalizers->size(); ++i) {
      if ((*finalizers)[i] == kAssignedIdentityFinalizer) {
        r.finalizer = static_cast<int>(i);
        break;
      }
    }
  }

  const json* spec = member(object, "spec");
  const json* identity_ref = spec != nullptr ? member(*spec, "azureIdentityRef") : nullptr;
  const json* binding_ref = spec != nullptr ? member(*spec, "azureBindingRef") : nullptr;
  std::optional<crd::AzureIdentity> identity;
  if (identity_ref != nullptr) {
    if (auto id = crd::parse_azure_identity(*identity_ref)) identity = std::move(id.value());
  }
  if (identity) {
    r.identity_parsed = true;
    r.identity_type = identity->type;
    r.identity_resource_id = intern(identity_needs_compute(*identity) ? identity->resource_id : "");
  } else {
    r.identity_resource_id = intern(parsed->identity_resource_id);  // whatever it names: a removal waits for ARM
  }
  std::optional<crd::AzureIdentityBinding> binding;
  if (binding_ref != nullptr) {
    const json& bmd = metadata_of(*binding_ref);
    if (member(*binding_ref, "metadata") != nullptr) {
      r.binding_ns = string_in(bmd, "namespace").value_or("");
      r.binding_name = string_in(bmd, "name").value_or("");
      r.binding_uid = string_in(bmd, "uid").value_or("");
    }
    if (auto b = crd::parse_azure_identity_binding(*binding_ref)) binding = std::move(b.value());
  }
  if (identity && binding) {
    const std::optional<std::string> node_label = metadata_entry(object, "labels", kNodeNameLabel);
    const std::string identity_uid = string_in(metadata_of(*identity_ref), "uid").value_or("");
    AssignmentContent content{.pod = r.pod,
                              .pod_namespace = r.pod_namespace,
                              .node = r.node,
                              .node_label = node_label ? std::optional<std::string_view>(*node_label) : std::nullopt,
                              .compute = r.compute ? std::optional<std::string_view>(*r.compute) : std::nullopt,
                              .identity = &*identity,
                              .identity_uid = identity_uid,
                              .binding = &*binding,
                              .binding_uid = r.binding_uid};
    r.digest = assignment_digest(content);
  }
  return r;
}

Digest assignment_digest(const AssignmentContent& c) {
  Encoder e;
  e.add(c.pod);
  e.add(c.pod_namespace);
  e.add(c.node);
  e.add(c.node_label);
  e.add(c.compute);
  // The identity as the plan compares it: which object (namespace, name, uid), the fields a token depends on,
  // the namespaced behaviour and the principal id. Not its resourceVersion, status or other annotations.
  const crd::AzureIdentity& id = *c.identity;
  e.add(std::string_view(id.ns));
  e.add(std::string_view(id.name));
  e.add(c.identity_uid);
  e.add(static_cast<int>(id.type));
  e.add(std::string_view(id.client_id));
  e.add(std::string_view(id.resource_id));
  e.add(std::string_view(id.tenant_id));
  e.add(std::string_view(id.ad_endpoint));
  e.add(std::string_view(id.client_password.name));
  e.add(std::string_view(id.client_password.ns));
  e.add(static_cast<int>(id.auxiliary_tenant_ids.size()));
  for (const auto& t : id.auxiliary_tenant_ids) e.add(std::string_view(t));
  e.add(id.namespaced_behavior);
  e.add(std::string_view(id.principal_id));
  const crd::AzureIdentityBinding& b = *c.binding;
  e.add(std::string_view(b.ns));
  e.add(std::string_view(b.name));
  e.add(std::string_view(b.azure_identity));
  e.add(std::string_view(b.selector));
  e.add(c.binding_uid);
  return e.digest();
}

}  // namespace podid::controller
