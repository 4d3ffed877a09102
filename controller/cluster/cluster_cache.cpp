// SPDX-License-Identifier: Apache-2.0
#include "controller/cluster/cluster_cache.h"

#include <charconv>
#include <optional>
#include <variant>

#include "podid/log.h"

namespace podid::controller {
namespace {

using nlohmann::json;

constexpr const char* kCrdPath = "/apis/aadpodidentity.k8s.io/v1/";

using Staged = std::variant<PodRecord, NodeRecord, std::shared_ptr<const IdentityRecord>,
                            std::shared_ptr<const BindingRecord>, std::shared_ptr<const AssignedRecord>>;

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

std::string metadata_string(const json& object, const char* key) {
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return {};
  auto v = md->find(key);
  return v != md->end() && v->is_string() ? v->get<std::string>() : std::string();
}

ObjectName name_of(const json& object) {
  return {metadata_string(object, "namespace"), metadata_string(object, "name")};
}

std::optional<std::uint64_t> version_of(std::string_view rv) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  if (ec != std::errc() || end != rv.data() + rv.size()) return std::nullopt;
  return v;
}

template <class T>
Result<Staged> staged(Result<T> r) {
  if (!r) return r.error();
  return Staged{std::move(r.value())};
}

Result<Staged> parse(CachedKind kind, const json& object) {
  switch (kind) {
    case CachedKind::kPod:
      return staged(pod_record(object));
    case CachedKind::kNode:
      return staged(node_record(object));
    case CachedKind::kIdentity:
      return staged(identity_record(object));
    case CachedKind::kBinding:
      return staged(binding_record(object));
    case CachedKind::kAssignedIdentity: {
      auto r = assigned_record(object);
      if (!r) return r.error();
      return Staged{std::make_shared<const AssignedRecord>(std::move(r.value()))};
    }
  }
  return Error{std::make_error_code(std::errc::invalid_argument), "unknown kind"};
}

// Hands a parsed record to the index that keeps its kind.
Reach store(Staged&& record, DesiredIndex& desired,
            const std::function<Reach(std::shared_ptr<const AssignedRecord>)>& upsert_assigned) {
  return std::visit(
      [&](auto&& r) -> Reach {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, PodRecord>) {
          return desired.upsert_pod(std::move(r));
        } else if constexpr (std::is_same_v<T, NodeRecord>) {
          return desired.upsert_node(std::move(r));
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const IdentityRecord>>) {
          return desired.upsert_identity(std::move(r));
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const BindingRecord>>) {
          return desired.upsert_binding(std::move(r));
        } else {
          return upsert_assigned(std::move(r));
        }
      },
      std::move(record));
}

}  // namespace

// One kind's bookkeeping: what did not parse, a list in progress.
struct ClusterCache::Kind {
  CachedKind kind;
  std::map<ObjectName, DesiredProblem> invalid;
  std::map<ObjectName, Staged> staged;  // the list being received
  std::map<ObjectName, DesiredProblem> staged_invalid;
};

ClusterCache::ClusterCache(boost::asio::any_io_executor executor, k8s::ApiClient& api, bool force_namespaced,
                           std::function<void(Reach)> on_change)
    : executor_(std::move(executor)), api_(api), on_change_(std::move(on_change)), desired_(force_namespaced) {
  watch(CachedKind::kPod, "pods", "/api/v1/pods", std::string(crd::kBindingLabel));
  watch(CachedKind::kNode, "nodes", "/api/v1/nodes", "");
  watch(CachedKind::kIdentity, "azureidentities", std::string(kCrdPath) + "azureidentities", "");
  watch(CachedKind::kBinding, "azureidentitybindings", std::string(kCrdPath) + "azureidentitybindings", "");
  watch(CachedKind::kAssignedIdentity, "azureassignedidentities", std::string(kCrdPath) + "azureassignedidentities", "");
}

ClusterCache::~ClusterCache() { stop(); }

void ClusterCache::watch(CachedKind kind, std::string name, std::string path, std::string label_selector) {
  kinds_[kind] = std::make_unique<Kind>(Kind{.kind = kind});
  k8s::ReflectorHandler handler{
      .event = [this, kind](k8s::WatchEventType type, const json& object) { apply(kind, type, object); },
      .list_item = [this, kind](json&& object) { list_item(kind, std::move(object)); },
      .list_end = [this, kind](bool complete) { list_end(kind, complete); },
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

ComputeSlice ClusterCache::slice(std::string_view compute, const std::vector<std::string>& immutable_client_ids) const {
  return make_compute_slice(desired_, assigned_, compute, immutable_client_ids);
}

std::vector<DesiredProblem> ClusterCache::invalid() const {
  std::vector<DesiredProblem> out;
  for (const auto& [kind, k] : kinds_) {
    for (const auto& [name, p] : k->invalid) out.push_back(p);
  }
  return out;
}

void ClusterCache::changed(Reach reach) {
  if (!reach.empty() && on_change_) on_change_(std::move(reach));
}

// --- applying records ---------------------------------------------------------------------------------------------
Reach ClusterCache::assigned_reach(const AssignedRecord& r) const {
  Reach reach;
  reach.computes.insert(r.compute ? *r.compute : desired_.compute_of_node(r.node));
  if (auto compute = desired_.compute_of_assignment({r.ns, r.name})) reach.computes.insert(std::move(*compute));
  return reach;
}

Reach ClusterCache::upsert_assigned(std::shared_ptr<const AssignedRecord> record) {
  Reach reach = assigned_reach(*record);
  if (auto old = assigned_.upsert(std::move(record))) reach.merge(assigned_reach(*old));
  return reach;
}

Reach ClusterCache::remove_assigned(const ObjectName& name) {
  auto old = assigned_.remove(name);
  return old ? assigned_reach(*old) : Reach{};
}

Reach ClusterCache::upsert(CachedKind kind, const json& object) {
  Kind& k = *kinds_.at(kind);
  const ObjectName name = name_of(object);
  auto parsed = parse(kind, object);
  if (!parsed) {
    // Left out, and said once (the controller turns invalid() into an Event and a metric).
    k.invalid.insert_or_assign(
        name, DesiredProblem{kind_name(kind), name.first, name.second, "InvalidObject", parsed.error().context});
    Reach reach = remove(kind, name);
    reach.problems_changed = true;
    return reach;
  }
  bool was_invalid = k.invalid.erase(name) > 0;
  Reach reach = store(std::move(parsed.value()), desired_, [this](auto r) { return upsert_assigned(std::move(r)); });
  if (was_invalid) reach.problems_changed = true;
  return reach;
}

Reach ClusterCache::remove(CachedKind kind, const ObjectName& name) {
  switch (kind) {
    case CachedKind::kPod:
      return desired_.remove_pod(name);
    case CachedKind::kNode:
      return desired_.remove_node(name.second);
    case CachedKind::kIdentity:
      return desired_.remove_identity(name);
    case CachedKind::kBinding:
      return desired_.remove_binding(name);
    case CachedKind::kAssignedIdentity:
      return remove_assigned(name);
  }
  return {};
}

void ClusterCache::apply(CachedKind kind, k8s::WatchEventType type, const json& object) {
  const ObjectName name = name_of(object);
  if (kind == CachedKind::kAssignedIdentity) {
    // Older than what a write of ours already applied: skip. The event of that write itself catches up.
    if (auto seen = assigned_versions_.find(name); seen != assigned_versions_.end()) {
      auto rv = version_of(metadata_string(object, "resourceVersion"));
      if (rv && *rv <= seen->second) {
        if (*rv == seen->second) assigned_versions_.erase(seen);
        return;
      }
      assigned_versions_.erase(seen);
    }
  }
  Reach reach;
  if (type == k8s::WatchEventType::kDeleted) {
    Kind& k = *kinds_.at(kind);
    bool was_invalid = k.invalid.erase(name) > 0;
    reach = remove(kind, name);
    if (was_invalid) reach.problems_changed = true;
  } else {
    reach = upsert(kind, object);
  }
  changed(std::move(reach));
}

void ClusterCache::observe_written(const json& object) {
  const ObjectName name = name_of(object);
  auto rv = version_of(metadata_string(object, "resourceVersion"));
  if (!rv) return;  // not comparable: the watch brings it
  if (auto held = assigned_.find(name)) {
    auto held_rv = version_of(held->resource_version);
    if (held_rv && *held_rv >= *rv) return;
  }
  assigned_versions_[name] = *rv;
  const json* md = object.contains("metadata") ? &object["metadata"] : nullptr;
  const bool gone = md != nullptr && md->contains("deletionTimestamp") &&
                    (!md->contains("finalizers") || (*md)["finalizers"].empty());
  Reach reach;
  if (gone) {
    reach = remove(CachedKind::kAssignedIdentity, name);
  } else {
    reach = upsert(CachedKind::kAssignedIdentity, object);
  }
  changed(std::move(reach));
}

// --- lists ---------------------------------------------------------------------------------------------------------
std::vector<ObjectName> ClusterCache::held(CachedKind kind) const {
  switch (kind) {
    case CachedKind::kPod:
      return desired_.pod_names();
    case CachedKind::kNode:
      return desired_.node_names();
    case CachedKind::kIdentity:
      return desired_.identity_names();
    case CachedKind::kBinding:
      return desired_.binding_names();
    case CachedKind::kAssignedIdentity: {
      std::vector<ObjectName> out;
      out.reserve(assigned_.size());
      for (const auto& [name, record] : assigned_.all()) out.push_back(name);
      return out;
    }
  }
  return {};
}

void ClusterCache::list_item(CachedKind kind, json&& object) {
  Kind& k = *kinds_.at(kind);
  const ObjectName name = name_of(object);
  auto parsed = parse(kind, object);
  if (!parsed) {
    k.staged_invalid.insert_or_assign(
        name, DesiredProblem{kind_name(kind), name.first, name.second, "InvalidObject", parsed.error().context});
    return;
  }
  k.staged.insert_or_assign(name, std::move(parsed.value()));
}

// A completed list is applied as the changes it implies: what it lacks is removed, the rest upserted (an
// unchanged object reaches nothing).
void ClusterCache::list_end(CachedKind kind, bool complete) {
  Kind& k = *kinds_.at(kind);
  std::map<ObjectName, Staged> staged = std::move(k.staged);
  std::map<ObjectName, DesiredProblem> staged_invalid = std::move(k.staged_invalid);
  k.staged.clear();
  k.staged_invalid.clear();
  if (!complete) return;
  Reach reach;
  for (const auto& name : held(kind)) {
    if (!staged.contains(name)) reach.merge(remove(kind, name));
  }
  if (kind == CachedKind::kAssignedIdentity) assigned_versions_.clear();
  for (auto& [name, record] : staged) {
    reach.merge(store(std::move(record), desired_, [this](auto r) { return upsert_assigned(std::move(r)); }));
  }
  if (k.invalid != staged_invalid) {
    for (const auto& [name, p] : staged_invalid) {
      if (!k.invalid.contains(name)) reach.merge(remove(kind, name));
    }
    k.invalid = std::move(staged_invalid);
    reach.problems_changed = true;
  }
  // Said even when it reached nothing: a completed list may be the last the controller waits for to start.
  if (on_change_) on_change_(std::move(reach));
}

}  // namespace podid::controller
