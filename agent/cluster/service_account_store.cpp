// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/service_account_store.h"

#include <set>

#include "podid/ascii.h"
#include "podid/log.h"

namespace podid::agent {
namespace {

bool same_identity(const AzureIdentity& a, const AzureIdentity& b) {
  return ascii::iequals(a.client_id, b.client_id) && a.tenant_id == b.tenant_id;
}

}  // namespace

void ServiceAccountStore::changed(const AzureIdentity& before) {
  for (const auto& cb : callbacks_) cb(before);
}

void ServiceAccountStore::upsert(const nlohmann::json& object) {
  auto parsed = parse_service_account(object);
  if (!parsed) {
    ++parse_errors_;
    static log::Throttle throttle(5);
    if (auto suppressed = throttle.admit()) {
      log::warn("service account skipped", {{"error", parsed.error().message()}, {"suppressed", *suppressed}});
    }
    return;
  }
  Key key{parsed->ns, parsed->name};
  if (parsed->client_id.empty()) {
    remove(key);
    return;
  }
  AzureIdentity now = workload_identity_of(*parsed);
  if (auto l = learned_.find(ascii::lowered(now.client_id)); l != learned_.end()) now.principal_id = l->second;
  auto it = accounts_.find(key);
  if (it == accounts_.end()) {
    accounts_.emplace(std::move(key), std::move(now));
    return;
  }
  AzureIdentity before = std::move(it->second);
  it->second = std::move(now);
  if (!same_identity(before, it->second)) changed(before);
}

void ServiceAccountStore::remove(const Key& key) {
  auto it = accounts_.find(key);
  if (it == accounts_.end()) return;
  AzureIdentity before = std::move(it->second);
  accounts_.erase(it);
  changed(before);
}

void ServiceAccountStore::replace(const std::vector<nlohmann::json>& items) {
  ++generation_;
  std::set<Key> seen;
  for (const auto& item : items) {
    upsert(item);
    seen.emplace(item.value("/metadata/namespace"_json_pointer, std::string()),
                 item.value("/metadata/name"_json_pointer, std::string()));
  }
  std::vector<Key> gone;
  for (const auto& [key, identity] : accounts_) {
    if (!seen.count(key)) gone.push_back(key);
  }
  for (const auto& key : gone) remove(key);
}

void ServiceAccountStore::apply(k8s::WatchEventType type, const nlohmann::json& object) {
  ++generation_;
  if (type == k8s::WatchEventType::kDeleted) {
    remove({object.value("/metadata/namespace"_json_pointer, std::string()),
            object.value("/metadata/name"_json_pointer, std::string())});
  } else if (type == k8s::WatchEventType::kAdded || type == k8s::WatchEventType::kModified) {
    upsert(object);
  }
}

const AzureIdentity* ServiceAccountStore::workload_identity(std::string_view ns, std::string_view name) const {
  auto it = accounts_.find(std::pair<std::string_view, std::string_view>(ns, name));
  return it == accounts_.end() ? nullptr : &it->second;
}

bool ServiceAccountStore::learn_principal_id(std::string_view client_id, std::string_view principal_id) {
  std::string lower = ascii::lowered(client_id);
  std::string principal = ascii::lowered(principal_id);
  bool changed_any = false;
  for (auto& [key, identity] : accounts_) {
    if (ascii::lowered(identity.client_id) == lower && identity.principal_id != principal) {
      identity.principal_id = principal;
      changed_any = true;
    }
  }
  if (changed_any) {
    learned_[lower] = principal;
    ++generation_;
  }
  return changed_any;
}

}  // namespace podid::agent
