// SPDX-License-Identifier: Apache-2.0
#include "controller/state/desired_index.h"

#include <algorithm>

namespace podid::controller {
namespace {

using nlohmann::json;

// What an AAI could state of an identity or binding: the object minus what the API server and status writers
// change (status, resourceVersion, generation, managedFields).
json stated_part(const json& raw) {
  json out = raw;
  out.erase("status");
  if (auto md = out.find("metadata"); md != out.end() && md->is_object()) {
    for (const char* k : {"resourceVersion", "generation", "managedFields"}) md->erase(k);
  }
  return out;
}

template <class Record>
bool same_stated(const std::shared_ptr<const Record>& a, const std::shared_ptr<const Record>& b) {
  return a && b && stated_part(*a->raw) == stated_part(*b->raw);
}

template <class Map, class Key, class Value>
void erase_from_set(Map& map, const Key& key, const Value& value) {
  auto it = map.find(key);
  if (it == map.end()) return;
  it->second.erase(value);
  if (it->second.empty()) map.erase(it);
}

}  // namespace

void Reach::merge(Reach other) {
  computes.merge(other.computes);
  appeared.insert(appeared.end(), other.appeared.begin(), other.appeared.end());
  vanished.insert(vanished.end(), other.vanished.begin(), other.vanished.end());
  problems_changed = problems_changed || other.problems_changed;
}

DesiredIndex::DesiredIndex(bool force_namespaced) : force_namespaced_(force_namespaced) {}

// --- pods ------------------------------------------------------------------------------------------------------
void DesiredIndex::index_pod(const ObjectName* key, const PodRecord& pod, int sign) {
  auto adjust = [&](auto& map, const std::string& k) {
    if (sign > 0) {
      map[k].insert(key);
    } else {
      erase_from_set(map, k, key);
    }
  };
  if (pod.labelled) adjust(pods_by_selector_, pod.selector);
  if (!pod.node.empty()) adjust(pods_by_node_, pod.node);
  if (pod.needs_identity()) {
    auto& n = needing_by_selector_[pod.selector];
    n = sign > 0 ? n + 1 : n - 1;
    if (n == 0) needing_by_selector_.erase(pod.selector);
  }
}

Reach DesiredIndex::upsert_pod(PodRecord pod) {
  Reach reach;
  ObjectName key{pod.ns, pod.name};
  auto it = pods_.find(key);
  if (it != pods_.end() && it->second.pod == pod) return reach;
  std::set<ObjectName> names;
  if (it != pods_.end()) {
    unclaim(&it->first, it->second, names);
    index_pod(&it->first, it->second.pod, -1);
    it->second.pod = std::move(pod);
    ++it->second.version;
  } else {
    it = pods_.emplace(std::move(key), PodEntry{std::move(pod), 0, {}, {}}).first;
  }
  index_pod(&it->first, it->second.pod, +1);
  claim(&it->first, it->second, names);
  for (const auto& n : names) resolve(n, reach);
  reach.problems_changed = true;
  return reach;
}

Reach DesiredIndex::remove_pod(const ObjectName& key) {
  Reach reach;
  auto it = pods_.find(key);
  if (it == pods_.end()) return reach;
  std::set<ObjectName> names;
  unclaim(&it->first, it->second, names);
  index_pod(&it->first, it->second.pod, -1);
  for (const auto& n : names) resolve(n, reach);  // while the entry still stands: winners point into it
  pods_.erase(it);
  reach.problems_changed = true;
  return reach;
}

void DesiredIndex::unclaim(const ObjectName* pod, PodEntry& entry, std::set<ObjectName>& names) {
  for (const auto& c : entry.claims) {
    auto& list = aais_.at(*c.aai).claimants;
    std::erase_if(list, [&](const Claimant& x) { return x.pod == pod && x.binding == c.binding; });
    names.insert(*c.aai);
  }
  entry.claims.clear();
  entry.invalid_names.clear();
}

// MIC's matching (desired_state.h): every binding whose selector is the pod's label value, its identity in the
// binding's namespace, the namespaced rule, the name's length.
void DesiredIndex::claim(const ObjectName* key, PodEntry& entry, std::set<ObjectName>& names) {
  const PodRecord& pod = entry.pod;
  if (!pod.needs_identity()) return;
  auto bindings = bindings_by_selector_.find(pod.selector);
  if (bindings == bindings_by_selector_.end()) return;
  for (const auto& bkey : bindings->second) {
    const auto& binding = bindings_.at(bkey);
    auto found = identities_.find({binding->object.ns, binding->object.azure_identity});
    if (found == identities_.end() || invalid_resource_id_problem(found->second->object)) continue;
    const auto& identity = found->second;
    const bool namespaced = force_namespaced_ || identity->object.namespaced_behavior;
    if (namespaced && pod.ns != binding->object.ns) continue;
    auto name = assignment_name(pod, identity->object);
    if (!name) {
      entry.invalid_names.push_back(
          invalid_name_problem(pod, identity->object, pod.name + "-" + pod.ns + "-" + identity->object.name));
      continue;
    }
    auto aai = aais_
                   .try_emplace(
                       {namespaced ? identity->object.ns : std::string(kDefaultAssignmentNamespace), std::move(*name)})
                   .first;
    entry.claims.push_back({&aai->first, bkey});
    auto& list = aai->second.claimants;
    Claimant c{key, bkey, identity, binding};
    list.insert(std::upper_bound(list.begin(), list.end(), c), std::move(c));
    names.insert(aai->first);
  }
}

void DesiredIndex::refresh_pods(const std::set<ObjectName>& pods, Reach& reach) {
  std::set<ObjectName> names;
  for (const auto& key : pods) {
    auto it = pods_.find(key);
    if (it == pods_.end()) continue;
    unclaim(&it->first, it->second, names);
    claim(&it->first, it->second, names);
  }
  for (const auto& n : names) resolve(n, reach);
  reach.problems_changed = true;
}

// --- winners ---------------------------------------------------------------------------------------------------
DesiredAssignment DesiredIndex::make(const ObjectName& aai, const Winner& w) const {
  DesiredAssignment a;
  a.name = aai.second;
  a.ns = aai.first;
  a.pod = w.pod->pod.name;
  a.pod_namespace = w.pod->pod.ns;
  a.pod_uid = w.pod->pod.uid;
  a.node = text(w.node);
  a.identity = w.identity;
  a.binding = w.binding;
  a.compute_key = text(w.compute);
  return a;
}

void DesiredIndex::resolve(const ObjectName& name, Reach& reach) {
  auto it = aais_.find(name);
  if (it == aais_.end()) return;
  AaiEntry& e = it->second;
  std::optional<Winner> next;
  std::vector<DesiredProblem> lost;
  if (!e.claimants.empty()) {
    const Claimant& w = e.claimants.front();
    const PodEntry& entry = pods_.at(*w.pod);
    const PodRecord& pod = entry.pod;
    auto n = nodes_.find(pod.node);
    next = Winner{&entry,           entry.version,    w.identity,
                  w.binding_record, intern(pod.node), intern(n != nodes_.end() ? n->second.key : std::string())};
    // One pod bound to one identity through two bindings is no conflict; anything else is.
    for (std::size_t i = 1; i < e.claimants.size(); ++i) {
      const Claimant& c = e.claimants[i];
      if (c.pod == w.pod && c.identity->object.ns == w.identity->object.ns &&
          c.identity->object.name == w.identity->object.name) {
        continue;
      }
      lost.push_back(name_conflict_problem(pods_.at(*c.pod).pod, c.identity->object, name.first, name.second, pod,
                                           w.identity->object));
    }
  }
  if (lost.empty()) {
    conflicts_.erase(name);
  } else {
    conflicts_[name] = std::move(lost);
  }
  const bool had = e.winner.has_value();
  if (had && next && *e.winner == *next) return;
  if (had) drop_winner(it, reach);
  if (next) add_winner(it, std::move(*next), reach);
  if (had && !next) reach.vanished.push_back(name);
  if (!had && next) reach.appeared.push_back(name);
  if (e.claimants.empty() && !e.winner) aais_.erase(it);
}

void DesiredIndex::add_winner(Aais::iterator it, Winner w, Reach& reach) {
  it->second.winner = std::move(w);
  ++winner_count_;
  const Winner& a = *it->second.winner;
  const std::string& compute = text(a.compute);
  on_compute_[compute].insert(&it->first);
  reach.computes.insert(compute);
  if (compute.empty()) {
    ++unplaced_on_node_[text(a.node)];
  } else if (a.needs_arm()) {
    identity_refs_[compute][arm::canonical_key(a.identity->object.resource_id)].insert(&it->first);
    refresh_identity_ids(compute);
  }
}

void DesiredIndex::drop_winner(Aais::iterator it, Reach& reach) {
  const Winner a = std::move(*it->second.winner);
  it->second.winner.reset();
  --winner_count_;
  const std::string& compute = text(a.compute);
  erase_from_set(on_compute_, compute, &it->first);
  reach.computes.insert(compute);
  if (compute.empty()) {
    if (auto n = unplaced_on_node_.find(text(a.node)); n != unplaced_on_node_.end() && --n->second == 0) {
      unplaced_on_node_.erase(n);
    }
  } else if (a.needs_arm()) {
    auto refs = identity_refs_.find(compute);
    if (refs != identity_refs_.end()) {
      erase_from_set(refs->second, arm::canonical_key(a.identity->object.resource_id), &it->first);
      if (refs->second.empty()) identity_refs_.erase(refs);
    }
    refresh_identity_ids(compute);
  }
}

// Deduplicated ignoring case, the spelling of the first AAI (by namespace, name) kept, sorted by canonical key.
void DesiredIndex::refresh_identity_ids(const std::string& compute) {
  auto need = computes_.find(compute);
  if (need == computes_.end()) return;
  need->second.identity_ids.clear();
  auto refs = identity_refs_.find(compute);
  if (refs == identity_refs_.end()) return;
  for (const auto& [canonical, aais] : refs->second) {
    need->second.identity_ids.push_back(aais_.at(**aais.begin()).winner->identity->object.resource_id);
  }
}

// --- nodes -----------------------------------------------------------------------------------------------------
Reach DesiredIndex::upsert_node(NodeRecord node) {
  Reach reach;
  NodeCompute nc = node_compute(node.name, node.provider_id);
  node_provider_ids_.insert_or_assign(node.name, node.provider_id);
  set_node(node.name, std::move(nc), reach);
  return reach;
}

Reach DesiredIndex::remove_node(std::string_view node) {
  Reach reach;
  if (auto it = node_provider_ids_.find(node); it != node_provider_ids_.end()) node_provider_ids_.erase(it);
  set_node(std::string(node), std::nullopt, reach);
  return reach;
}

void DesiredIndex::set_node(const std::string& node, std::optional<NodeCompute> nc, Reach& reach) {
  auto old = nodes_.find(node);
  const bool had = old != nodes_.end();
  if (had && nc && old->second.key == nc->key && old->second.why == nc->why) return;
  if (!had && !nc) return;
  if (had && !old->second.key.empty()) {
    auto need = computes_.find(old->second.key);
    std::erase(need->second.nodes, node);
    if (need->second.nodes.empty()) computes_.erase(need);
    reach.computes.insert(old->second.key);
  }
  if (nc && !nc->key.empty()) {
    auto [need, inserted] = computes_.try_emplace(nc->key);
    if (inserted) need->second.compute = *nc->compute;
    auto& nodes = need->second.nodes;
    nodes.insert(std::lower_bound(nodes.begin(), nodes.end(), node), node);
    reach.computes.insert(nc->key);
    if (inserted) refresh_identity_ids(nc->key);
  }
  if (nc) {
    nodes_.insert_or_assign(node, std::move(*nc));
  } else {
    nodes_.erase(node);
  }
  // Its pods' AAIs stand for another compute now: the same claims, resolved again.
  if (auto pods = pods_by_node_.find(node); pods != pods_by_node_.end()) {
    std::set<ObjectName> names;
    for (const ObjectName* key : pods->second) {
      for (const auto& c : pods_.at(*key).claims) names.insert(*c.aai);
    }
    for (const auto& n : names) resolve(n, reach);
  }
  reach.problems_changed = true;
}

// --- identities and bindings -------------------------------------------------------------------------------------
std::set<ObjectName> DesiredIndex::pods_of_selector(const std::string& selector) const {
  std::set<ObjectName> out;
  if (auto it = pods_by_selector_.find(selector); it != pods_by_selector_.end()) {
    for (const ObjectName* key : it->second) out.insert(*key);
  }
  return out;
}

std::set<ObjectName> DesiredIndex::pods_of_identity(const ObjectName& identity) const {
  std::set<ObjectName> out;
  for (const auto& [key, b] : bindings_) {
    if (b->object.ns == identity.first && b->object.azure_identity == identity.second) {
      out.merge(pods_of_selector(b->object.selector));
    }
  }
  return out;
}

Reach DesiredIndex::upsert_identity(std::shared_ptr<const IdentityRecord> identity) {
  Reach reach;
  ObjectName key{identity->object.ns, identity->object.name};
  auto& slot = identities_[key];
  const bool stated_same = same_stated(slot, identity);
  slot = std::move(identity);
  if (stated_same) return reach;  // a status write: no AAI states it
  refresh_pods(pods_of_identity(key), reach);
  return reach;
}

Reach DesiredIndex::remove_identity(const ObjectName& key) {
  Reach reach;
  if (identities_.erase(key) == 0) return reach;
  refresh_pods(pods_of_identity(key), reach);
  return reach;
}

Reach DesiredIndex::upsert_binding(std::shared_ptr<const BindingRecord> binding) {
  Reach reach;
  ObjectName key{binding->object.ns, binding->object.name};
  auto& slot = bindings_[key];
  if (same_stated(slot, binding)) {
    slot = std::move(binding);
    return reach;
  }
  std::set<ObjectName> pods;
  if (slot) {
    pods = pods_of_selector(slot->object.selector);
    erase_from_set(bindings_by_selector_, slot->object.selector, key);
  }
  pods.merge(pods_of_selector(binding->object.selector));
  bindings_by_selector_[binding->object.selector].insert(key);
  slot = std::move(binding);
  refresh_pods(pods, reach);
  return reach;
}

Reach DesiredIndex::remove_binding(const ObjectName& key) {
  Reach reach;
  auto it = bindings_.find(key);
  if (it == bindings_.end()) return reach;
  std::set<ObjectName> pods = pods_of_selector(it->second->object.selector);
  erase_from_set(bindings_by_selector_, it->second->object.selector, key);
  bindings_.erase(it);
  refresh_pods(pods, reach);
  return reach;
}

// --- reads -----------------------------------------------------------------------------------------------------
bool DesiredIndex::desired(const ObjectName& aai) const {
  auto it = aais_.find(aai);
  return it != aais_.end() && it->second.winner;
}

std::optional<DesiredAssignment> DesiredIndex::assignment(const ObjectName& aai) const {
  auto it = aais_.find(aai);
  if (it == aais_.end() || !it->second.winner) return std::nullopt;
  return make(it->first, *it->second.winner);
}

std::optional<std::string> DesiredIndex::compute_of_assignment(const ObjectName& aai) const {
  auto it = aais_.find(aai);
  if (it == aais_.end() || !it->second.winner) return std::nullopt;
  return text(it->second.winner->compute);
}

std::vector<DesiredAssignment> DesiredIndex::assignments_on(std::string_view compute) const {
  std::vector<DesiredAssignment> out;
  auto it = on_compute_.find(compute);
  if (it == on_compute_.end()) return out;
  out.reserve(it->second.size());
  for (const ObjectName* key : it->second) out.push_back(make(*key, *aais_.at(*key).winner));
  return out;
}

std::vector<DesiredProblem> DesiredIndex::problems() const {
  std::map<std::string, DesiredProblem> by_id;
  auto put = [&](DesiredProblem p) { by_id.try_emplace(p.id(), std::move(p)); };
  for (const auto& [key, id] : identities_) {
    if (auto p = invalid_resource_id_problem(id->object)) put(std::move(*p));
  }
  for (const auto& [key, b] : bindings_) {
    if (identities_.contains({b->object.ns, b->object.azure_identity})) continue;
    if (needing_by_selector_.contains(b->object.selector)) put(identity_not_found_problem(b->object));
  }
  for (const auto& [key, entry] : pods_) {
    for (const auto& p : entry.invalid_names) put(p);
  }
  for (const auto& [aai, lost] : conflicts_) {
    for (const auto& p : lost) put(p);
  }
  for (const auto& [node, count] : unplaced_on_node_) {
    auto n = nodes_.find(node);
    put(invalid_provider_id_problem(node, n == nodes_.end() ? "node " + node + " not found" : n->second.why));
  }
  std::vector<DesiredProblem> out;
  out.reserve(by_id.size());
  for (auto& [id, p] : by_id) out.push_back(std::move(p));
  return out;
}

DesiredState DesiredIndex::state() const {
  DesiredState s;
  s.assignments.reserve(winner_count_);
  for (const auto& [key, e] : aais_) {
    if (e.winner) s.assignments.push_back(make(key, *e.winner));
  }
  s.computes = computes_;
  s.problems = problems();
  return s;
}

void DesiredIndex::each_assignment(const std::function<void(const ObjectName&)>& fn) const {
  for (const auto& [key, e] : aais_) {
    if (e.winner) fn(key);
  }
}

std::string DesiredIndex::difference_from(const DesiredState& full) const {
  if (full.assignments.size() != winner_count_) {
    return "assignments: " + std::to_string(winner_count_) + " kept, " + std::to_string(full.assignments.size()) +
           " computed";
  }
  for (const auto& b : full.assignments) {
    auto it = aais_.find({b.ns, b.name});
    if (it == aais_.end() || !it->second.winner) return "assignment " + b.ns + "/" + b.name + " not kept";
    const Winner& w = *it->second.winner;
    const PodRecord& pod = w.pod->pod;
    const bool same = pod.name == b.pod && pod.ns == b.pod_namespace && pod.uid == b.pod_uid &&
                      text(w.node) == b.node && text(w.compute) == b.compute_key &&
                      w.identity->object.ns == b.identity->object.ns &&
                      w.identity->object.name == b.identity->object.name &&
                      w.binding->object.ns == b.binding->object.ns && w.binding->object.name == b.binding->object.name;
    if (!same) return "assignment " + b.ns + "/" + b.name;
  }
  if (computes_ != full.computes) return "computes";
  std::set<std::string> kept, computed;
  for (const auto& p : problems()) kept.insert(p.id());
  for (const auto& p : full.problems) computed.insert(p.id());
  if (kept != computed) return "problems";
  return "";
}

const PodRecord* DesiredIndex::pod(const ObjectName& key) const {
  auto it = pods_.find(key);
  return it == pods_.end() ? nullptr : &it->second.pod;
}

std::shared_ptr<const IdentityRecord> DesiredIndex::identity(const ObjectName& key) const {
  auto it = identities_.find(key);
  return it == identities_.end() ? nullptr : it->second;
}

std::string DesiredIndex::compute_of_node(std::string_view node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? std::string() : it->second.key;
}

ClusterSnapshot DesiredIndex::snapshot() const {
  ClusterSnapshot s;
  s.force_namespaced = force_namespaced_;
  s.pods.reserve(pods_.size());
  for (const auto& [key, entry] : pods_) s.pods.push_back(entry.pod);
  s.node_provider_ids = node_provider_ids_;
  for (const auto& [key, id] : identities_) s.identities.push_back(id);
  for (const auto& [key, b] : bindings_) s.bindings.push_back(b);
  return s;
}

namespace {
template <class Map>
std::vector<ObjectName> keys_of(const Map& map) {
  std::vector<ObjectName> out;
  out.reserve(map.size());
  for (const auto& [key, value] : map) out.push_back(key);
  return out;
}
}  // namespace

std::vector<ObjectName> DesiredIndex::pod_names() const { return keys_of(pods_); }
std::vector<ObjectName> DesiredIndex::identity_names() const { return keys_of(identities_); }
std::vector<ObjectName> DesiredIndex::binding_names() const { return keys_of(bindings_); }
std::vector<ObjectName> DesiredIndex::node_names() const {
  std::vector<ObjectName> out;
  out.reserve(node_provider_ids_.size());
  for (const auto& [name, provider_id] : node_provider_ids_) out.emplace_back("", name);
  return out;
}

std::shared_ptr<const BindingRecord> DesiredIndex::binding(const ObjectName& key) const {
  auto it = bindings_.find(key);
  return it == bindings_.end() ? nullptr : it->second;
}

}  // namespace podid::controller
