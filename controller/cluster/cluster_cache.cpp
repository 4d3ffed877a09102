// SPDX-License-Identifier: Apache-2.0
#include "controller/cluster/cluster_cache.h"

#include "podid/log.h"

namespace podid::controller {
namespace {

using nlohmann::json;

constexpr const char* kCrdPath = "/apis/aadpodidentity.k8s.io/v1/";

std::string key_of(const json& object) {
  const json& md = object.value("metadata", json::object());
  std::string ns = md.value("namespace", "");
  std::string name = md.value("name", "");
  return ns.empty() ? name : ns + "/" + name;
}

// Copies object[path...] into out at the same place when present.
void keep(const json& from, json& to, std::initializer_list<const char*> fields) {
  for (const char* f : fields) {
    if (auto it = from.find(f); it != from.end()) to[f] = *it;
  }
}

const char* kind_name(CachedKind kind) {
  switch (kind) {
    case CachedKind::kPod: return "Pod";
    case CachedKind::kNode: return "Node";
    case CachedKind::kIdentity: return "AzureIdentity";
    case CachedKind::kBinding: return "AzureIdentityBinding";
    case CachedKind::kAssignedIdentity: return "AzureAssignedIdentity";
  }
  return "?";
}

template <class T, class Parse>
void parse_all(const ObjectMap& objects, CachedKind kind, Parse parse, std::vector<Cached<T>>& out,
               std::vector<DesiredProblem>* invalid) {
  out.reserve(objects.size());
  for (const auto& [key, raw] : objects) {
    auto parsed = parse(*raw);
    if (!parsed) {
      if (invalid) {
        const json& md = raw->value("metadata", json::object());
        invalid->push_back({kind_name(kind), md.value("namespace", ""), md.value("name", ""), "InvalidObject",
                            parsed.error().context});
      }
      continue;
    }
    out.push_back({std::move(parsed.value()), raw});
  }
}

}  // namespace

json trim_object(CachedKind kind, const json& object) {
  const json& md = object.value("metadata", json::object());
  json out = json::object();
  switch (kind) {
    case CachedKind::kPod: {
      json m = json::object();
      keep(md, m, {"name", "namespace", "uid", "labels", "deletionTimestamp", "resourceVersion", "creationTimestamp"});
      json spec = json::object();
      keep(object.value("spec", json::object()), spec, {"nodeName", "hostNetwork", "serviceAccountName"});
      json status = json::object();
      keep(object.value("status", json::object()), status, {"phase", "podIP", "podIPs"});
      out = {{"metadata", std::move(m)}, {"spec", std::move(spec)}, {"status", std::move(status)}};
      break;
    }
    case CachedKind::kNode: {
      json m = json::object();
      keep(md, m, {"name", "uid", "resourceVersion"});
      json spec = json::object();
      keep(object.value("spec", json::object()), spec, {"providerID"});
      out = {{"metadata", std::move(m)}, {"spec", std::move(spec)}};
      break;
    }
    case CachedKind::kIdentity:
    case CachedKind::kBinding:
    case CachedKind::kAssignedIdentity:
      // Whole objects (AzureAssignedIdentities embed copies of identity and binding), minus the server's
      // bookkeeping of who wrote which field.
      out = object;
      if (auto it = out.find("metadata"); it != out.end() && it->is_object()) it->erase("managedFields");
      break;
  }
  return out;
}

ClusterCache::ClusterCache(boost::asio::any_io_executor executor, k8s::ApiClient& api, std::function<void()> on_change)
    : executor_(std::move(executor)), api_(api), on_change_(std::move(on_change)) {
  watch(CachedKind::kPod, "pods", "/api/v1/pods", std::string(crd::kBindingLabel));
  watch(CachedKind::kNode, "nodes", "/api/v1/nodes", "");
  watch(CachedKind::kIdentity, "azureidentities", std::string(kCrdPath) + "azureidentities", "");
  watch(CachedKind::kBinding, "azureidentitybindings", std::string(kCrdPath) + "azureidentitybindings", "");
  watch(CachedKind::kAssignedIdentity, "azureassignedidentities", std::string(kCrdPath) + "azureassignedidentities", "");
}

ClusterCache::~ClusterCache() { stop(); }

void ClusterCache::watch(CachedKind kind, std::string name, std::string path, std::string label_selector) {
  ObjectMap& map = objects_[kind];
  k8s::ReflectorHandler handler{
      .replace =
          [this, kind, &map](const std::vector<json>& items) {
            map.clear();
            for (const auto& item : items) map.emplace(key_of(item), std::make_shared<const json>(trim_object(kind, item)));
            ++generation_;
            if (on_change_) on_change_();
          },
      .event =
          [this, kind, &map](k8s::WatchEventType type, const json& object) {
            std::string key = key_of(object);
            if (type == k8s::WatchEventType::kDeleted) {
              map.erase(key);
            } else {
              map.insert_or_assign(std::move(key), std::make_shared<const json>(trim_object(kind, object)));
            }
            ++generation_;
            if (on_change_) on_change_();
          },
  };
  k8s::ReflectorOptions options{.name = std::move(name), .collection_path = std::move(path),
                                .label_selector = std::move(label_selector)};
  reflectors_.push_back(std::make_unique<k8s::Reflector>(executor_, api_, std::move(options), std::move(handler)));
}

void ClusterCache::start() {
  for (auto& r : reflectors_) r->start();
}

void ClusterCache::stop() {
  for (auto& r : reflectors_) r->stop();
}

bool ClusterCache::synced() const {
  for (const auto& r : reflectors_) {
    if (!r->stats().synced) return false;
  }
  return true;
}

bool ClusterCache::connected() const {
  for (const auto& r : reflectors_) {
    if (!r->stats().connected) return false;
  }
  return true;
}

std::vector<std::pair<std::string, k8s::ReflectorStats>> ClusterCache::stats() const {
  std::vector<std::pair<std::string, k8s::ReflectorStats>> out;
  for (const auto& r : reflectors_) out.emplace_back(r->options().name, r->stats());
  return out;
}

const ObjectMap& ClusterCache::objects(CachedKind kind) const { return objects_.at(kind); }

ClusterSnapshot ClusterCache::snapshot(bool force_namespaced, std::vector<DesiredProblem>* invalid) const {
  ClusterSnapshot s;
  s.force_namespaced = force_namespaced;
  parse_all<crd::PodInfo>(objects(CachedKind::kPod), CachedKind::kPod, crd::parse_pod, s.pods, invalid);
  parse_all<crd::AzureIdentity>(objects(CachedKind::kIdentity), CachedKind::kIdentity, crd::parse_azure_identity,
                                s.identities, invalid);
  parse_all<crd::AzureIdentityBinding>(objects(CachedKind::kBinding), CachedKind::kBinding,
                                       crd::parse_azure_identity_binding, s.bindings, invalid);
  for (const auto& [name, node] : objects(CachedKind::kNode)) {
    s.node_provider_ids.emplace(name, node->value("spec", json::object()).value("providerID", ""));
  }
  return s;
}

std::vector<Cached<crd::AzureAssignedIdentity>> ClusterCache::assigned_identities(
    std::vector<DesiredProblem>* invalid) const {
  std::vector<Cached<crd::AzureAssignedIdentity>> out;
  parse_all<crd::AzureAssignedIdentity>(objects(CachedKind::kAssignedIdentity), CachedKind::kAssignedIdentity,
                                        crd::parse_azure_assigned_identity, out, invalid);
  return out;
}

}  // namespace podid::controller
