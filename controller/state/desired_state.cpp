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

// A pod being deleted still needs its identity: its containers run through the grace period, and shutdown code
// (flushing to a queue, releasing a lease in Azure) is exactly what calls Azure then. It stops needing it when it
// is gone or finished, as with MIC.
bool needs_identity(const crd::PodInfo& pod) {
  if (pod.node.empty()) return false;  // not scheduled: no compute to put anything on yet
  if (pod.phase == "Succeeded" || pod.phase == "Failed") return false;
  return pod.labels.contains(crd::kBindingLabel);
}

template <class T>
bool by_namespace_name(const Cached<T>* a, const Cached<T>* b) {
  return std::tie(a->object.ns, a->object.name) < std::tie(b->object.ns, b->object.name);
}

// Where each node's pods get their identities: the compute key per node, or why there is none.
struct NodeCompute {
  std::string key;  // "" when unusable
  std::string why;  // set when key is ""
};

class Builder {
 public:
  explicit Builder(const ClusterSnapshot& s) : snapshot_(s) {}

  DesiredState build() {
    index_nodes();
    index_identities();
    index_bindings();

    std::vector<const Cached<crd::PodInfo>*> pods;
    for (const auto& p : snapshot_.pods) {
      if (needs_identity(p.object)) pods.push_back(&p);
    }
    std::sort(pods.begin(), pods.end(), by_namespace_name<crd::PodInfo>);
    for (const auto* pod : pods) match(*pod);

    std::stable_sort(out_.assignments.begin(), out_.assignments.end(),
                     [](const auto& a, const auto& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
    collect_identity_ids();
    return std::move(out_);
  }

 private:
  void problem(std::string_view kind, const std::string& ns, const std::string& name, std::string_view reason,
               std::string message) {
    out_.problems.push_back({std::string(kind), ns, name, std::string(reason), std::move(message)});
  }

  void index_nodes() {
    for (const auto& [node, provider_id] : snapshot_.node_provider_ids) {
      NodeCompute& nc = nodes_[node];
      if (provider_id.empty()) {
        nc.why = "node " + node + " has no spec.providerID";
        continue;
      }
      auto compute = arm::parse_provider_id(provider_id);
      if (!compute) {
        nc.why = "node " + node + ": " + compute.error().context;
        continue;
      }
      nc.key = compute->key();
      auto [it, inserted] = out_.computes.try_emplace(nc.key);
      if (inserted) it->second.compute = *compute;
      it->second.nodes.push_back(node);  // the map iterates nodes in order: already sorted
    }
  }

  // Identities by (ns, name). Type-0 identities without a usable resource id are reported and left out, so no
  // binding matches them (MIC dropped them while listing).
  void index_identities() {
    std::vector<const Cached<crd::AzureIdentity>*> sorted;
    for (const auto& id : snapshot_.identities) sorted.push_back(&id);
    std::sort(sorted.begin(), sorted.end(), by_namespace_name<crd::AzureIdentity>);
    for (const auto* id : sorted) {
      const crd::AzureIdentity& o = id->object;
      if (o.type == crd::IdentityType::kUserAssigned && !crd::is_user_assigned_resource_id(o.resource_id)) {
        problem("AzureIdentity", o.ns, o.name, kReasonInvalidResourceId,
                o.resource_id.empty()
                    ? "spec.resourceID is required for a user-assigned identity (type 0)"
                    : "spec.resourceID \"" + o.resource_id + "\" is not a user-assigned identity resource id");
        invalid_identities_.emplace(o.ns, o.name);
        continue;
      }
      identities_.try_emplace({o.ns, o.name}, id);
    }
  }

  void index_bindings() {
    for (const auto& b : snapshot_.bindings) bindings_.push_back(&b);
    std::sort(bindings_.begin(), bindings_.end(), by_namespace_name<crd::AzureIdentityBinding>);
  }

  void match(const Cached<crd::PodInfo>& cached) {
    const crd::PodInfo& pod = cached.object;
    const std::string& selector = pod.labels.find(crd::kBindingLabel)->second;
    for (const auto* binding : bindings_) {
      const crd::AzureIdentityBinding& b = binding->object;
      if (b.selector != selector) continue;
      std::pair<std::string, std::string> id_key{b.ns, b.azure_identity};
      auto found = identities_.find(id_key);
      if (found == identities_.end()) {
        if (!invalid_identities_.contains(id_key) && missing_reported_.emplace(b.ns, b.name).second) {
          problem("AzureIdentityBinding", b.ns, b.name, kReasonIdentityNotFound,
                  "AzureIdentity " + b.ns + "/" + b.azure_identity + " not found (an identity must be in its " +
                      "binding's namespace)");
        }
        continue;
      }
      const Cached<crd::AzureIdentity>& identity = *found->second;
      bool namespaced = snapshot_.force_namespaced || identity.object.namespaced_behavior;
      if (namespaced && pod.ns != b.ns) continue;
      add(cached, *binding, identity, namespaced);
    }
  }

  void add(const Cached<crd::PodInfo>& cached, const Cached<crd::AzureIdentityBinding>& binding,
           const Cached<crd::AzureIdentity>& identity, bool namespaced) {
    const crd::PodInfo& pod = cached.object;
    const crd::AzureIdentity& id = identity.object;
    DesiredAssignment a;
    a.name = pod.name + "-" + pod.ns + "-" + id.name;
    a.ns = namespaced ? id.ns : std::string(kDefaultAssignmentNamespace);
    if (a.name.size() > kMaxObjectName) {
      problem("AzureIdentity", id.ns, id.name, kReasonInvalidName,
              "pod " + pod.ns + "/" + pod.name + ": AzureAssignedIdentity name \"" + a.name + "\" is longer than " +
                  std::to_string(kMaxObjectName) + " characters");
      return;
    }
    auto [winner, inserted] = taken_.try_emplace({a.ns, a.name}, Owner{&cached, &identity});
    if (!inserted) {
      const Owner& first = winner->second;
      if (first.pod != &cached || first.identity != &identity) {
        problem("AzureIdentity", id.ns, id.name, kReasonNameConflict,
                "pod " + pod.ns + "/" + pod.name + " gets no AzureAssignedIdentity for this identity: the name " +
                    a.ns + "/" + a.name + " is taken by AzureIdentity " + first.identity->object.ns + "/" +
                    first.identity->object.name + " for pod " + first.pod->object.ns + "/" + first.pod->object.name +
                    " (rename one of the identities)");
      }
      return;
    }
    a.pod = pod.name;
    a.pod_namespace = pod.ns;
    a.pod_uid = pod.uid;
    a.node = pod.node;
    a.identity = &identity;
    a.binding = &binding;
    a.compute_key = compute_of(pod.node);
    out_.assignments.push_back(std::move(a));
  }

  std::string compute_of(const std::string& node) {
    auto it = nodes_.find(node);
    if (it != nodes_.end() && !it->second.key.empty()) return it->second.key;
    if (node_reported_.insert(node).second) {
      std::string why = it == nodes_.end() ? "node " + node + " not found" : it->second.why;
      problem("Node", "", node, kReasonInvalidProviderId,
              why + ": not an Azure VM or scale-set instance, its pods' user-assigned identities cannot be assigned");
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
    const Cached<crd::PodInfo>* pod;
    const Cached<crd::AzureIdentity>* identity;
  };

  const ClusterSnapshot& snapshot_;
  DesiredState out_;
  std::map<std::string, NodeCompute, std::less<>> nodes_;
  std::map<std::pair<std::string, std::string>, const Cached<crd::AzureIdentity>*> identities_;
  std::set<std::pair<std::string, std::string>> invalid_identities_;
  std::vector<const Cached<crd::AzureIdentityBinding>*> bindings_;
  std::map<std::pair<std::string, std::string>, Owner> taken_;
  std::set<std::pair<std::string, std::string>> missing_reported_;
  std::set<std::string, std::less<>> node_reported_;
};

}  // namespace

bool DesiredAssignment::needs_arm() const {
  return identity != nullptr && identity->object.type == crd::IdentityType::kUserAssigned;
}

DesiredState compute_desired_state(const ClusterSnapshot& snapshot) { return Builder(snapshot).build(); }

}  // namespace podid::controller
