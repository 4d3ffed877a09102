// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/cluster_watch.h"

#include <set>

namespace podid::agent {
namespace {

constexpr const char* kCrdPath = "/apis/aadpodidentity.k8s.io/v1/";

// BOOKMARK and ERROR are the reflector's business; stores see only object changes.
std::optional<Change> change_of(k8s::WatchEventType type) {
  switch (type) {
    case k8s::WatchEventType::kAdded: return Change::kAdded;
    case k8s::WatchEventType::kModified: return Change::kModified;
    case k8s::WatchEventType::kDeleted: return Change::kDeleted;
    default: return std::nullopt;
  }
}

// A ReflectorHandler feeding one kind of the IdentityStore, then `after` (to re-derive what depends on it).
template <class Replace, class Apply>
k8s::ReflectorHandler identity_handler(IdentityStore& store, Replace replace, Apply apply,
                                       std::function<void()> after) {
  return {
      .replace = [&store, replace, after](const std::vector<nlohmann::json>& items) {
        (store.*replace)(items);
        after();
      },
      .event = [&store, apply, after](k8s::WatchEventType type, const nlohmann::json& object) {
        if (auto change = change_of(type)) {
          (store.*apply)(*change, object);
          after();
        }
      },
  };
}

}  // namespace

ClusterWatch::ClusterWatch(boost::asio::any_io_executor executor, k8s::ApiClient& api, const AgentConfig& config,
                           PodStore& pods, IdentityStore& identities, SecretStore& secrets,
                           ServiceAccountStore* accounts)
    : executor_(std::move(executor)), api_(api), identities_(identities), secrets_(secrets) {
  add("pods", "/api/v1/pods", "spec.nodeName=" + config.node_name, "",
      {.replace = [&pods](const std::vector<nlohmann::json>& items) { pods.replace(items); },
       .event = [&pods](k8s::WatchEventType type, const nlohmann::json& object) { pods.apply(type, object); }});
  auto nothing = [] {};
  auto secrets_follow = [this] { track_secrets(); };
  add("azureidentities", std::string(kCrdPath) + "azureidentities", "", "",
      identity_handler(identities, &IdentityStore::replace_identities, &IdentityStore::apply_identity, secrets_follow));
  add("azureidentitybindings", std::string(kCrdPath) + "azureidentitybindings", "", "",
      identity_handler(identities, &IdentityStore::replace_bindings, &IdentityStore::apply_binding, nothing));
  add("azurepodidentityexceptions", std::string(kCrdPath) + "azurepodidentityexceptions", "", "",
      identity_handler(identities, &IdentityStore::replace_exceptions, &IdentityStore::apply_exception, nothing));
  if (accounts != nullptr) {
    add("serviceaccounts", "/api/v1/serviceaccounts", "", "",
        {.replace = [accounts](const std::vector<nlohmann::json>& items) { accounts->replace(items); },
         .event = [accounts](k8s::WatchEventType type, const nlohmann::json& object) { accounts->apply(type, object); }});
  }
  if (config.mode == OperationMode::kStandard) {
    add("azureassignedidentities", std::string(kCrdPath) + "azureassignedidentities", "",
        "nodename=" + config.node_name,
        identity_handler(identities, &IdentityStore::replace_assigned_identities,
                         &IdentityStore::apply_assigned_identity, nothing));
  }
}

ClusterWatch::~ClusterWatch() { stop(); }

void ClusterWatch::add(std::string name, std::string path, std::string field_selector, std::string label_selector,
                       k8s::ReflectorHandler handler) {
  k8s::ReflectorOptions options{.name = std::move(name),
                                .collection_path = std::move(path),
                                .field_selector = std::move(field_selector),
                                .label_selector = std::move(label_selector)};
  reflectors_.push_back(std::make_unique<k8s::Reflector>(executor_, api_, std::move(options), std::move(handler)));
}

void ClusterWatch::track_secrets() {
  std::set<SecretName> wanted;
  identities_.for_each_identity([&wanted](const AzureIdentity& identity) {
    if (identity.type != IdentityType::kUserAssigned && !identity.client_password.name.empty()) {
      wanted.emplace(identity.client_password.ns, identity.client_password.name);
    }
  });
  secrets_.track(wanted);
}

void ClusterWatch::start() {
  for (auto& r : reflectors_) r->start();
}

void ClusterWatch::stop() {
  for (auto& r : reflectors_) r->stop();
}

bool ClusterWatch::synced() const {
  for (const auto& r : reflectors_) {
    if (!r->stats().synced) return false;
  }
  return secrets_.synced();
}

bool ClusterWatch::connected() const {
  for (const auto& r : reflectors_) {
    if (!r->stats().connected) return false;
  }
  return true;
}

std::vector<std::pair<std::string, k8s::ReflectorStats>> ClusterWatch::stats() const {
  std::vector<std::pair<std::string, k8s::ReflectorStats>> out;
  for (const auto& r : reflectors_) out.emplace_back(r->options().name, r->stats());
  for (const auto& [name, s] : secrets_.stats()) out.emplace_back("secret", s);
  return out;
}

}  // namespace podid::agent
