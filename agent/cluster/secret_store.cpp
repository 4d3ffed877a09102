// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/secret_store.h"

#include "podid/encoding/base64.h"
#include "podid/log.h"

namespace podid::agent {

struct SecretStore::Watched {
  std::unique_ptr<k8s::Reflector> reflector;
  bool present = false;
  SecretData data;
  uint64_t generation = 0;
};

SecretStore::SecretStore(boost::asio::any_io_executor executor, k8s::ApiClient& api)
    : executor_(std::move(executor)), api_(api) {}

SecretStore::~SecretStore() {
  for (auto& [name, w] : watched_) w->reflector->stop();
}

void SecretStore::set_data(const SecretName& name, const nlohmann::json* secret) {
  auto it = watched_.find(name);
  if (it == watched_.end()) return;
  Watched& w = *it->second;
  SecretData data;
  bool present = secret != nullptr;
  if (secret) {
    // Named: items() of a temporary would iterate a destroyed object.
    const nlohmann::json encoded = secret->value("data", nlohmann::json::object());
    for (const auto& [key, value] : encoded.items()) {
      auto decoded = value.is_string() ? encoding::base64_decode(value.get<std::string>()) : std::nullopt;
      if (!decoded) {
        log::warn("secret value is not base64; key ignored",
                  {{"secret", name.first + "/" + name.second}, {"key", key}});
        continue;
      }
      data.emplace(key, std::move(*decoded));
    }
  }
  if (present != w.present || data != w.data) {
    w.present = present;
    w.data = std::move(data);
    ++w.generation;
  }
}

void SecretStore::track(const std::set<SecretName>& wanted) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    it->second->reflector->stop();
    it = watched_.erase(it);
  }
  for (const auto& name : wanted) {
    if (watched_.count(name)) continue;
    auto w = std::make_unique<Watched>();
    k8s::ReflectorOptions options{
        .name = "secret " + name.first + "/" + name.second,
        .collection_path = "/api/v1/namespaces/" + name.first + "/secrets",
        .field_selector = "metadata.name=" + name.second,
    };
    k8s::ReflectorHandler handler{
        .replace =
            [this, name](const std::vector<nlohmann::json>& items) {
              set_data(name, items.empty() ? nullptr : &items.front());
            },
        .event =
            [this, name](k8s::WatchEventType type, const nlohmann::json& object) {
              set_data(name, type == k8s::WatchEventType::kDeleted ? nullptr : &object);
            },
    };
    w->reflector = std::make_unique<k8s::Reflector>(executor_, api_, std::move(options), std::move(handler));
    Watched& ref = *w;
    watched_.emplace(name, std::move(w));
    ref.reflector->start();
  }
}

const SecretData* SecretStore::data(const SecretName& name) const {
  auto it = watched_.find(name);
  return it == watched_.end() || !it->second->present ? nullptr : &it->second->data;
}

uint64_t SecretStore::generation(const SecretName& name) const {
  auto it = watched_.find(name);
  return it == watched_.end() ? 0 : it->second->generation;
}

bool SecretStore::synced() const {
  for (const auto& [name, w] : watched_) {
    if (!w->reflector->stats().synced) return false;
  }
  return true;
}

std::vector<std::pair<SecretName, k8s::ReflectorStats>> SecretStore::stats() const {
  std::vector<std::pair<SecretName, k8s::ReflectorStats>> out;
  for (const auto& [name, w] : watched_) out.emplace_back(name, w->reflector->stats());
  return out;
}

}  // namespace podid::agent
