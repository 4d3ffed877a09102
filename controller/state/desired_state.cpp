// SPDX-License-Identifier: Apache-2.0
#include "controller/state/desired_state.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

namespace podid::controller {
namespace {

// An object name is a DNS subdomain: at most 253 characters. Pod, namespace and identity names are valid names,
// so their concatenation with '-' can only be wrong by its length.
constexpr std::size_t kMaxObjectName = 253;

template <class T>
bool by_namespace_name(const T* a, const T* b) {
  return std::tie(a->object.ns, a->object.name) < std::tie(b->object.ns, b->object.name);
}

class Builder {
 public:
  explicit Builder(const ClusterSnapshot& s) : snapshot_(s) {}

  DesiredState build() {
    index_nodes();
    index_identities();
    index_bindings();

    std::vector<const PodRecord*> pods;
    for (const auto& p : snapshot_.pods) {
      if (p.needs_identity()) pods.push_back(&p);
    }
    std::sort(pods.begin(), pods.end(), [](const PodRecord* a, const PodRecord* b) {
      return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
    });
    for (const auto* pod : pods) match(*pod);

    std::stable_sort(out_.assignments.begin(), out_.assignments.end(),
                     [](const auto& a, const auto& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
    collect_identity_ids();
    return std::move(out_);
  }

 private:
  void index_nodes() {
    for (const auto& [node, provider_id] : snapshot_.node_provider_ids) {
      NodeCompute nc = node_compute(node, provider_id);
      if (!nc.key.empty()) {
        auto [it, inserted] = out_.computes.try_emplace(nc.key);
        if (inserted) it->second.compute = *nc.compute;
        it->second.nodes.push_back(node);  // the map iterates nodes in order: already sorted
      }
      nodes_.emplace(node, std::move(nc));
    }
  }

  // Identities by (ns, name). Type-0 identities without a usable resource id are reported and left out, so no
  // binding matches them (MIC dropped them while listing).
  void index_identities() {
    std::vector<const std::shared_ptr<const IdentityRecord>*> sorted;
    for (const auto& id : snapshot_.identities) sorted.push_back(&id);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return by_namespace_name(a->get(), b->get()); });
    for (const auto* id : sorted) {
      const crd::AzureIdentity& o = (*id)->object;
      if (auto problem = invalid_resource_id_problem(o)) {
        out_.problems.push_back(std::move(*problem));
        invalid_identities_.emplace(o.ns, o.name);
        continue;
      }
      identities_.try_emplace({o.ns, o.name}, *id);
    }
  }

  void index_bindings() {
    for (const auto& b : snapshot_.bindings) bindings_.push_back(b.get());
    std::sort(bindings_.begin(), bindings_.end(), by_namespace_name<BindingRecord>);
    for (const auto& b : snapshot_.bindings) binding_ptrs_.emplace(b.get(), b);
  }

  void match(const PodRecord& pod) {
    for (const auto* binding : bindings_) {
      const crd::AzureIdentityBinding& b = binding->object;
      if (b.selector != pod.selector) continue;
      std::pair<std::string, std::string> id_key{b.ns, b.azure_identity};
      auto found = identities_.find(id_key);
      if (found == identities_.end()) {
        if (!invalid_identities_.contains(id_key) && missing_reported_.emplace(b.ns, b.name).second) {
          out_.problems.push_back(identity_not_found_problem(b));
        }
        continue;
      }
      const std::shared_ptr<const IdentityRecord>& identity = found->second;
      bool namespaced = snapshot_.force_namespaced || identity->object.namespaced_behavior;
      if (namespaced && pod.ns != b.ns) continue;
      add(pod, binding_ptrs_.at(binding), identity, namespaced);
    }
  }

  void add(const PodRecord& pod, const std::shared_ptr<const BindingRecord>& binding,
           const std::shared_ptr<const IdentityRecord>& identity, bool namespaced) {
    const crd::AzureIdentity& id = identity->object;
    auto name = assignment_name(pod, id);
    if (!name) {
      out_.problems.push_back(invalid_name_problem(pod, id, pod.name + "-" + pod.ns + "-" + id.name));
      return;
    }
    DesiredAssignment a;
    a.name = std::move(*name);
    a.ns = namespaced ? id.ns : std::string(kDefaultAssignmentNamespace);
    auto [winner, inserted] = taken_.try_emplace({a.ns, a.name}, Owner{&pod, identity.get()});
    if (!inserted) {
      const Owner& first = winner->second;
      if (first.pod != &pod || first.identity != identity.get()) {
        out_.problems.push_back(name_conflict_problem(pod, id, a.ns, a.name, *first.pod, first.identity->object));
      }
      return;
    }
    a.pod = pod.name;
    a.pod_namespace = pod.ns;
    a.pod_uid = pod.uid;
    a.node = pod.node;
    a.identity = identity;
    a.binding = binding;
    a.compute_key = compute_of(pod.node);
    out_.assignments.push_back(std::move(a));
  }

  std::string compute_of(const std::string& node) {
    auto it = nodes_.find(node);
    if (it != nodes_.end() && !it->second.key.empty()) return it->second.key;
    if (node_reported_.insert(node).second) {
      out_.problems.push_back(
          invalid_provider_id_problem(node, it == nodes_.end() ? "node " + node + " not found" : it->second.why));
    }
    return {};
  }

  void collect_identity_ids() {
    std::map<std::string, std::set<std::string>, std::less<>> seen;  // compute key -> canonical id keys
    for (const auto& a : out_.assignments) {
      if (a.compute_key.empty() || !a.needs_arm()) continue;
      const std::string& id = a.identity->object.resource_id;
      if (!seen[a.compute_key].insert(arm::canonical_key(id)).second) continue;
      out_.computes.at(a.compute_key).identity_ids.push_back(id);
    }
    for (auto& [key, need] : out_.computes) {
      std::sort(need.identity_ids.begin(), need.identity_ids.end(),
                [](const auto& x, const auto& y) { return arm::canonical_key(x) < arm::canonical_key(y); });
    }
  }

  struct Owner {
    const PodRecord* pod;
    const IdentityRecord* identity;
  };

  const ClusterSnapshot& snapshot_;
  DesiredState out_;
  std::map<std::string, NodeCompute, std::less<>> nodes_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const IdentityRecord>> identities_;
  std::set<std::pair<std::string, std::string>> invalid_identities_;
  std::vector<const BindingRecord*> bindings_;
  std::map<const BindingRecord*, std::shared_ptr<const BindingRecord>> binding_ptrs_;
  std::map<std::pair<std::string, std::string>, Owner> taken_;
  std::set<std::pair<std::string, std::string>> missing_reported_;
  std::set<std::string, std::less<>> node_reported_;
};

}  // namespace

bool identity_needs_compute(const crd::AzureIdentity& identity) {
  return identity.type == crd::IdentityType::kUserAssigned && !identity.federated;
}

bool DesiredAssignment::needs_arm() const { return identity != nullptr && identity_needs_compute(identity->object); }

DesiredState compute_desired_state(const ClusterSnapshot& snapshot) { return Builder(snapshot).build(); }

std::optional<std::string> assignment_name(const PodRecord& pod, const crd::AzureIdentity& identity) {
  std::string name = pod.name + "-" + pod.ns + "-" + identity.name;
  if (name.size() > kMaxObjectName) return std::nullopt;
  return name;
}

NodeCompute node_compute(std::string_view node, std::string_view provider_id) {
  NodeCompute nc;
  if (provider_id.empty()) {
    nc.why = "node " + std::string(node) + " has no spec.providerID";
    return nc;
  }
  auto compute = arm::parse_provider_id(provider_id);
  if (!compute) {
    nc.why = "node " + std::string(node) + ": " + compute.error().context;
    return nc;
  }
  nc.key = compute->key();
  nc.compute = std::move(compute.value());
  return nc;
}

DesiredProblem invalid_name_problem(const PodRecord& pod, const crd::AzureIdentity& id, const std::string& name) {
  return {"AzureIdentity", id.ns, id.name, std::string(kReasonInvalidName),
          "pod " + pod.ns + "/" + pod.name + ": AzureAssignedIdentity name \"" + name + "\" is longer than " +
              std::to_string(kMaxObjectName) + " characters"};
}

DesiredProblem name_conflict_problem(const PodRecord& pod, const crd::AzureIdentity& id, const std::string& ns,
                                     const std::string& name, const PodRecord& first_pod,
                                     const crd::AzureIdentity& first_identity) {
  return {"AzureIdentity", id.ns, id.name, std::string(kReasonNameConflict),
          "pod " + pod.ns + "/" + pod.name + " gets no AzureAssignedIdentity for this identity: the name " + ns + "/" +
              name + " is taken by AzureIdentity " + first_identity.ns + "/" + first_identity.name + " for pod " +
              first_pod.ns + "/" + first_pod.name + " (rename one of the identities)"};
}

DesiredProblem invalid_provider_id_problem(std::string_view node, std::string_view why) {
  return {"Node", "", std::string(node), std::string(kReasonInvalidProviderId),
          std::string(why) +
              ": not an Azure VM or scale-set instance, its pods' user-assigned identities cannot be assigned"};
}

DesiredProblem identity_not_found_problem(const crd::AzureIdentityBinding& b) {
  return {
      "AzureIdentityBinding", b.ns, b.name, std::string(kReasonIdentityNotFound),
      "AzureIdentity " + b.ns + "/" + b.azure_identity + " not found (an identity must be in its binding's namespace)"};
}

std::optional<DesiredProblem> invalid_resource_id_problem(const crd::AzureIdentity& o) {
  if (!identity_needs_compute(o) || crd::is_user_assigned_resource_id(o.resource_id))
    return std::nullopt;
  return DesiredProblem{"AzureIdentity", o.ns, o.name, std::string(kReasonInvalidResourceId),
                        o.resource_id.empty()
                            ? "spec.resourceID is required for a user-assigned identity (type 0)"
                            : "spec.resourceID \"" + o.resource_id + "\" is not a user-assigned identity resource id"};
}

}  // namespace podid::controller
