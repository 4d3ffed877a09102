// SPDX-License-Identifier: Apache-2.0
#include "agent/identity/identity_store.h"

#include <optional>
#include <set>

#include "podid/ascii.h"
#include "podid/log.h"

namespace podid::agent {
namespace {

using nlohmann::json;

// (namespace, name) from metadata, enough to delete an object even when the rest of it no longer parses.
std::optional<NsName> metadata_key(const json& object) {
  if (!object.is_object()) return std::nullopt;
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return std::nullopt;
  auto ns = md->find("namespace");
  auto name = md->find("name");
  if (ns == md->end() || name == md->end() || !ns->is_string() || !name->is_string()) return std::nullopt;
  return NsName{ns->get<std::string>(), name->get<std::string>()};
}

template <class T>
void no_prepare(T&) {}

}  // namespace

std::string_view to_string(CrdKind kind) {
  switch (kind) {
    case CrdKind::kAzureIdentity:
      return "AzureIdentity";
    case CrdKind::kAzureIdentityBinding:
      return "AzureIdentityBinding";
    case CrdKind::kAzureAssignedIdentity:
      return "AzureAssignedIdentity";
    case CrdKind::kAzurePodIdentityException:
      return "AzurePodIdentityException";
  }
  return "?";
}

std::string IdentityStore::client_id_key(const AzureIdentity& i) { return ascii::lowered(i.client_id); }

template <class T, class Collection, class Parse, class Prepare, class Changed>
void IdentityStore::apply_kind(CrdKind kind, Collection& items, Change change, const json& object, Parse parse,
                               Prepare prepare, Changed changed) {
  ++generation_;
  std::string key = object_key(object);
  auto erase_known = [&] {
    if (auto nn = metadata_key(object)) {
      if (auto before = items.erase(*nn)) changed(*before, static_cast<const T*>(nullptr));
    }
  };
  if (change == Change::kDeleted) {
    accept(kind, key);
    erase_known();
    return;
  }
  Result<T> parsed = parse(object);
  if (!parsed) {
    reject(kind, key, parsed.error());
    erase_known();
    return;
  }
  accept(kind, key);
  prepare(*parsed);
  NsName nn{parsed->ns, parsed->name};
  if (auto before = items.upsert(std::move(*parsed))) changed(*before, items.find(nn));
}

template <class T, class Collection, class Parse, class Prepare, class Changed>
void IdentityStore::replace_kind(CrdKind kind, Collection& items, const std::vector<json>& objects, Parse parse,
                                 Prepare prepare, Changed changed) {
  ++generation_;
  std::vector<T> values;
  values.reserve(objects.size());
  std::vector<std::pair<std::string, Error>> bad;
  for (const json& object : objects) {
    Result<T> parsed = parse(object);
    if (!parsed) {
      bad.emplace_back(object_key(object), parsed.error());
      continue;
    }
    prepare(*parsed);
    values.push_back(std::move(*parsed));
  }
  auto old = items.replace(std::move(values));

  // Rejections of this kind not seen in the new list are gone; the others are (re)recorded, which logs and
  // counts only those that are new or whose error changed.
  std::set<std::string> bad_keys;
  for (const auto& [k, _] : bad) bad_keys.insert(k);
  for (auto it = rejected_.begin(); it != rejected_.end();) {
    it = (it->first.first == kind && !bad_keys.contains(it->first.second)) ? rejected_.erase(it) : std::next(it);
  }
  for (const auto& [k, e] : bad) reject(kind, k, e);

  for (const auto& [nn, before] : old) changed(before, items.find(nn));
}

void IdentityStore::reject(CrdKind kind, const std::string& key, const Error& error) {
  auto [it, inserted] = rejected_.try_emplace({kind, key}, error);
  if (!inserted) {
    if (it->second.context == error.context) return;
    it->second = error;
  }
  ++rejections_total_;
  log::warn("skipping invalid object",
            {{"kind", std::string(to_string(kind))}, {"object", key}, {"error", error.message()}});
}

void IdentityStore::accept(CrdKind kind, const std::string& key) { rejected_.erase({kind, key}); }

void IdentityStore::overlay_learned(AzureIdentity& identity) const {
  if (learned_principals_.empty()) return;
  if (auto it = learned_principals_.find(ascii::lowered(identity.client_id)); it != learned_principals_.end()) {
    identity.principal_id = it->second;
  }
}

void IdentityStore::identity_changed(const AzureIdentity& before) {
  ++identity_changes_;
  for (const auto& cb : identity_callbacks_) cb(before);
}

void IdentityStore::binding_changed(const AzureIdentityBinding& before) {
  ++binding_changes_;
  for (const auto& cb : binding_callbacks_) cb(before);
}

// Which differences are announced: see the header.
void IdentityStore::identity_diff(const AzureIdentity& before, const AzureIdentity* after) {
  if (after == nullptr || after->token_relevant_change_from(before)) identity_changed(before);
}

void IdentityStore::binding_diff(const AzureIdentityBinding& before, const AzureIdentityBinding* after) {
  if (after == nullptr || after->azure_identity != before.azure_identity || after->selector != before.selector) {
    binding_changed(before);
  }
}

// Per-kind plumbing: which parser, what to do before storing, which differences matter.

void IdentityStore::replace_identities(const std::vector<json>& items) {
  replace_kind<AzureIdentity>(
      CrdKind::kAzureIdentity, identities_, items, parse_azure_identity,
      [this](AzureIdentity& i) { overlay_learned(i); },
      [this](const AzureIdentity& before, const AzureIdentity* after) { identity_diff(before, after); });
  // Forget principals of client ids no identity uses any more, so the map cannot grow without bound.
  std::erase_if(learned_principals_,
                [this](const auto& kv) { return identities_.bucket(std::string_view(kv.first)).empty(); });
}

void IdentityStore::apply_identity(Change change, const json& object) {
  apply_kind<AzureIdentity>(
      CrdKind::kAzureIdentity, identities_, change, object, parse_azure_identity,
      [this](AzureIdentity& i) { overlay_learned(i); },
      [this](const AzureIdentity& before, const AzureIdentity* after) { identity_diff(before, after); });
}

void IdentityStore::replace_bindings(const std::vector<json>& items) {
  replace_kind<AzureIdentityBinding>(
      CrdKind::kAzureIdentityBinding, bindings_, items, parse_azure_identity_binding, no_prepare<AzureIdentityBinding>,
      [this](const AzureIdentityBinding& before, const AzureIdentityBinding* after) { binding_diff(before, after); });
}

void IdentityStore::apply_binding(Change change, const json& object) {
  apply_kind<AzureIdentityBinding>(
      CrdKind::kAzureIdentityBinding, bindings_, change, object, parse_azure_identity_binding,
      no_prepare<AzureIdentityBinding>,
      [this](const AzureIdentityBinding& before, const AzureIdentityBinding* after) { binding_diff(before, after); });
}

void IdentityStore::replace_assigned_identities(const std::vector<json>& items) {
  replace_kind<AzureAssignedIdentity>(CrdKind::kAzureAssignedIdentity, assigned_, items, parse_azure_assigned_identity,
                                      no_prepare<AzureAssignedIdentity>,
                                      [](const AzureAssignedIdentity&, const AzureAssignedIdentity*) {});
}

void IdentityStore::apply_assigned_identity(Change change, const json& object) {
  apply_kind<AzureAssignedIdentity>(CrdKind::kAzureAssignedIdentity, assigned_, change, object,
                                    parse_azure_assigned_identity, no_prepare<AzureAssignedIdentity>,
                                    [](const AzureAssignedIdentity&, const AzureAssignedIdentity*) {});
}

void IdentityStore::replace_exceptions(const std::vector<json>& items) {
  replace_kind<AzurePodIdentityException>(CrdKind::kAzurePodIdentityException, exceptions_, items,
                                          parse_azure_pod_identity_exception, no_prepare<AzurePodIdentityException>,
                                          [](const AzurePodIdentityException&, const AzurePodIdentityException*) {});
}

void IdentityStore::apply_exception(Change change, const json& object) {
  apply_kind<AzurePodIdentityException>(CrdKind::kAzurePodIdentityException, exceptions_, change, object,
                                        parse_azure_pod_identity_exception, no_prepare<AzurePodIdentityException>,
                                        [](const AzurePodIdentityException&, const AzurePodIdentityException*) {});
}

void IdentityStore::on_identity_changed(IdentityCallback callback) {
  identity_callbacks_.push_back(std::move(callback));
}

void IdentityStore::on_binding_changed(BindingCallback callback) { binding_callbacks_.push_back(std::move(callback)); }

bool IdentityStore::learn_principal_id(std::string_view client_id, std::string_view principal_id) {
  if (client_id.empty() || principal_id.empty()) return false;
  std::string client = ascii::lowered(client_id);
  std::string principal = ascii::lowered(principal_id);
  if (identities_.bucket(std::string_view(client)).empty()) return false;
  bool changed = false;
  auto [it, inserted] = learned_principals_.try_emplace(client, principal);
  if (!inserted && it->second != principal) {
    it->second = principal;
    changed = true;
  }
  identities_.update_bucket(std::string_view(client), [&](AzureIdentity& identity) {
    if (identity.principal_id == principal) return;
    if (!identity.principal_id.empty()) {
      // A token is the authority on its own principal; an annotation saying otherwise is a typo to fix.
      log::warn("principal id differs from the identity's earlier value; using the token's",
                {{"identity", identity.ns + "/" + identity.name},
                 {"earlier", identity.principal_id},
                 {"token_oid", principal}});
    }
    identity.principal_id = principal;
    changed = true;
  });
  changed = changed || inserted;
  if (changed) {
    ++principals_learned_;
    ++generation_;
  }
  return changed;
}

const AzureIdentity* IdentityStore::identity(std::string_view ns, std::string_view name) const {
  return identities_.find({ns, name});
}

const AzureIdentityBinding* IdentityStore::binding(std::string_view ns, std::string_view name) const {
  return bindings_.find({ns, name});
}

std::span<const AzureIdentityBinding* const> IdentityStore::bindings_with_selector(std::string_view selector) const {
  return bindings_.bucket(selector);
}

std::span<const AzureAssignedIdentity* const> IdentityStore::assigned_to_pod(std::string_view pod_ns,
                                                                             std::string_view pod) const {
  return assigned_.bucket(NsNameView{pod_ns, pod});
}

std::span<const AzurePodIdentityException* const> IdentityStore::exceptions_in(std::string_view ns) const {
  return exceptions_.bucket(ns);
}

std::span<const AzureIdentity* const> IdentityStore::identities_with_client_id(
    std::string_view client_id_lowercase) const {
  return identities_.bucket(client_id_lowercase);
}

std::vector<RejectedObject> IdentityStore::rejected() const {
  std::vector<RejectedObject> out;
  out.reserve(rejected_.size());
  for (const auto& [k, e] : rejected_) out.push_back({k.first, k.second, e});
  return out;
}

IdentityStoreCounts IdentityStore::counts() const {
  return {.identities = identities_.size(),
          .bindings = bindings_.size(),
          .assigned_identities = assigned_.size(),
          .exceptions = exceptions_.size(),
          .rejected = rejected_.size(),
          .rejections_total = rejections_total_,
          .identity_changes = identity_changes_,
          .binding_changes = binding_changes_,
          .principals_learned = principals_learned_};
}

}  // namespace podid::agent
