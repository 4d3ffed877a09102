// SPDX-License-Identifier: Apache-2.0
//
// The desired state (desired_state.h) kept up to date object by object, so that a change costs what it
// touches and not the cluster: a pod event matches that pod again; a binding or identity event the pods with
// that binding's selector; a node event the pods on that node. It holds exactly what compute_desired_state
// computes from the same objects (a unit test holds it to that on random event streams, and the controller's
// periodic full pass compares the two, counts and logs any difference, and starts again from the full one).
//
// Every change says how far it reached (Reach): the compute keys whose needed identities, nodes or desired
// AzureAssignedIdentities may have changed (the controller queues exactly those), and the AAIs that became or
// stopped being desired.
//
// A change to an identity or binding that no AAI states (its status, resourceVersion, managedFields: the
// controller's own condition writes) swaps the stored record and reaches nothing.
//
// Errors: none; what cannot be used is in problems(), as in desired_state.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/state/desired_state.h"
#include "controller/state/interned.h"
#include "controller/state/records.h"

namespace podid::controller {

using ObjectName = std::pair<std::string, std::string>;  // (namespace, name); namespace "" if cluster-scoped

struct Reach {
  std::set<std::string, std::less<>> computes;
  std::vector<ObjectName> appeared;  // AzureAssignedIdentities now desired that were not
  std::vector<ObjectName> vanished;  // ... no longer desired
  bool problems_changed = false;
  bool empty() const { return computes.empty() && appeared.empty() && vanished.empty() && !problems_changed; }
  void merge(Reach other);
};

class DesiredIndex {
 public:
  explicit DesiredIndex(bool force_namespaced = false);

  Reach upsert_pod(PodRecord pod);
  Reach remove_pod(const ObjectName& pod);
  Reach upsert_node(NodeRecord node);
  Reach remove_node(std::string_view node);
  Reach upsert_identity(std::shared_ptr<const IdentityRecord> identity);
  Reach remove_identity(const ObjectName& identity);
  Reach upsert_binding(std::shared_ptr<const BindingRecord> binding);
  Reach remove_binding(const ObjectName& binding);

  // Every compute a node of the cluster is on, by key (see DesiredState::computes).
  const std::map<std::string, ComputeNeed, std::less<>>& computes() const { return computes_; }
  bool desired(const ObjectName& aai) const;
  std::optional<DesiredAssignment> assignment(const ObjectName& aai) const;
  // The compute a desired AAI stands for; nullopt when it is not desired.
  std::optional<std::string> compute_of_assignment(const ObjectName& aai) const;
  // The desired AAIs on one compute ("": on nodes that are no Azure VM), by (namespace, name).
  std::vector<DesiredAssignment> assignments_on(std::string_view compute) const;
  std::size_t assignment_count() const { return winner_count_; }
  // Sorted by id; one per id.
  std::vector<DesiredProblem> problems() const;
  // Everything, as compute_desired_state gives it (for tests).
  DesiredState state() const;
  // Calls `fn` with the name of every desired AAI, in (namespace, name) order.
  void each_assignment(const std::function<void(const ObjectName&)>& fn) const;
  // "" when `full` (compute_desired_state of this index's snapshot()) is what this index holds; else what
  // differs. Compares without copying the index's assignments.
  std::string difference_from(const DesiredState& full) const;

  // What the index was given, current (for the full pass, conditions and the caches' questions).
  const PodRecord* pod(const ObjectName& pod) const;
  std::shared_ptr<const IdentityRecord> identity(const ObjectName& identity) const;
  std::shared_ptr<const BindingRecord> binding(const ObjectName& binding) const;
  const std::map<ObjectName, std::shared_ptr<const IdentityRecord>>& identities() const { return identities_; }
  // The compute key of a node ("" when unknown or no Azure VM).
  std::string compute_of_node(std::string_view node) const;
  ClusterSnapshot snapshot() const;
  // The names of what it holds, by kind (a relist removes those it lacks).
  std::vector<ObjectName> pod_names() const;
  std::vector<ObjectName> node_names() const;  // ("", name)
  std::vector<ObjectName> identity_names() const;
  std::vector<ObjectName> binding_names() const;

 private:
  // Sets of names held elsewhere (map keys, whose addresses are stable), ordered by the names.
  struct ByName {
    bool operator()(const ObjectName* a, const ObjectName* b) const { return *a < *b; }
  };
  using NameSet = std::set<const ObjectName*, ByName>;

  struct Claim {
    const ObjectName* aai;  // key of aais_
    ObjectName binding;
  };
  struct PodEntry {
    PodRecord pod;
    std::uint64_t version = 0;  // bumped on every change of `pod`
    std::vector<Claim> claims;
    std::vector<DesiredProblem> invalid_names;
  };
  struct Claimant {
    const ObjectName* pod;  // their order decides the winner: MIC's pod order, then binding order
    ObjectName binding;
    std::shared_ptr<const IdentityRecord> identity;
    std::shared_ptr<const BindingRecord> binding_record;
    bool operator<(const Claimant& o) const { return std::tie(*pod, binding) < std::tie(*o.pod, o.binding); }
  };
  // A desired AAI, compactly: DesiredAssignment is made from it when asked for.
  struct Winner {
    const PodEntry* pod;
    std::uint64_t pod_version;
    std::shared_ptr<const IdentityRecord> identity;
    std::shared_ptr<const BindingRecord> binding;
    Interned node, compute;
    bool operator==(const Winner&) const = default;
    bool needs_arm() const { return identity_needs_compute(identity->object); }
  };

  // Everything about one AAI name: who claims it (sorted; the first wins) and the winner, as resolved.
  struct AaiEntry {
    std::vector<Claimant> claimants;
    std::optional<Winner> winner;
  };
  using Aais = std::map<ObjectName, AaiEntry>;

  DesiredAssignment make(const ObjectName& aai, const Winner& w) const;
  void refresh_pods(const std::set<ObjectName>& pods, Reach& reach);
  void unclaim(const ObjectName* pod, PodEntry& entry, std::set<ObjectName>& names);
  void claim(const ObjectName* pod, PodEntry& entry, std::set<ObjectName>& names);
  void resolve(const ObjectName& aai, Reach& reach);
  void add_winner(Aais::iterator it, Winner w, Reach& reach);
  void drop_winner(Aais::iterator it, Reach& reach);
  void refresh_identity_ids(const std::string& compute);
  std::set<ObjectName> pods_of_selector(const std::string& selector) const;
  std::set<ObjectName> pods_of_identity(const ObjectName& identity) const;
  void set_node(const std::string& node, std::optional<NodeCompute> compute, Reach& reach);
  void index_pod(const ObjectName* key, const PodRecord& pod, int sign);

  bool force_namespaced_;
  std::map<ObjectName, PodEntry> pods_;
  std::map<std::string, NameSet, std::less<>> pods_by_selector_;         // labelled pods (keys of pods_)
  std::map<std::string, NameSet, std::less<>> pods_by_node_;             // scheduled pods (keys of pods_)
  std::map<std::string, std::size_t, std::less<>> needing_by_selector_;  // pods that need an identity
  std::map<std::string, NodeCompute, std::less<>> nodes_;
  std::map<std::string, std::string, std::less<>> node_provider_ids_;
  std::map<std::string, ComputeNeed, std::less<>> computes_;
  std::map<ObjectName, std::shared_ptr<const IdentityRecord>> identities_;
  std::map<ObjectName, std::shared_ptr<const BindingRecord>> bindings_;
  std::map<std::string, std::set<ObjectName>, std::less<>> bindings_by_selector_;
  Aais aais_;                                               // by AAI name
  std::size_t winner_count_ = 0;                            // the desired AAIs
  std::map<std::string, NameSet, std::less<>> on_compute_;  // desired AAIs (keys of aais_)
  // compute -> canonical identity id -> the desired AAIs standing for it (keys of aais_)
  std::map<std::string, std::map<std::string, NameSet>, std::less<>> identity_refs_;
  std::map<std::string, std::size_t, std::less<>> unplaced_on_node_;  // desired AAIs on nodes without a compute
  std::map<ObjectName, std::vector<DesiredProblem>> conflicts_;       // by AAI: the claims that lost to another
};

}  // namespace podid::controller
