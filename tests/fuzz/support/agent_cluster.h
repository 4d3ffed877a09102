// SPDX-License-Identifier: Apache-2.0
//
// The agent's copy of the cluster (agent/cluster/pod_store.h, agent/identity/identity_store.h) fed as a broken
// or hostile API server could feed it: every object to every store, whatever its kind. And the property identity
// choice must keep whatever the stores hold: an identity is chosen for a pod only through a binding whose
// selector is the pod's aadpodidbinding label, naming that identity in its own namespace, and, in standard
// mode, only when an AzureAssignedIdentity says Assigned (or has no state) for that pod and identity.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "agent/cluster/pod_store.h"
#include "agent/identity/identity_store.h"
#include "agent/identity/selection.h"
#include "fuzz_check.h"
#include "podid/ascii.h"

namespace podid::fuzz {

class AgentCluster {
 public:
  void replace_all(const std::vector<nlohmann::json>& items) {
    pods_.replace(items);
    identities_.replace_identities(items);
    identities_.replace_bindings(items);
    identities_.replace_assigned_identities(items);
    identities_.replace_exceptions(items);
    for (const auto& item : items) remember_uid(item);
  }

  void apply(k8s::WatchEventType type, const nlohmann::json& object) {
    pods_.apply(type, object);
    std::optional<agent::Change> change;
    if (type == k8s::WatchEventType::kAdded) change = agent::Change::kAdded;
    if (type == k8s::WatchEventType::kModified) change = agent::Change::kModified;
    if (type == k8s::WatchEventType::kDeleted) change = agent::Change::kDeleted;
    if (!change) return;  // BOOKMARK and ERROR are the reflector's business
    identities_.apply_identity(*change, object);
    identities_.apply_binding(*change, object);
    identities_.apply_assigned_identity(*change, object);
    identities_.apply_exception(*change, object);
    remember_uid(object);
  }

  // Identity choice for every pod the stores hold, in both modes, with no selector and with each identity's
  // client id.
  void check_selection() const {
    for (const auto& uid : uids_) {
      const agent::PodInfo* pod = pods_.by_uid(uid);
      if (pod == nullptr) continue;
      std::vector<agent::IdentitySelector> selectors{{}};
      identities_.for_each_identity([&](const agent::AzureIdentity& identity) {
        if (selectors.size() < 8) selectors.push_back({agent::SelectorKind::kClientId, identity.client_id});
      });
      for (auto mode : {agent::Mode::kStandard, agent::Mode::kManaged}) {
        for (const auto& selector : selectors) {
          auto chosen = agent::select_identity(identities_, *pod, selector, {.mode = mode});
          if (auto* c = std::get_if<agent::Chosen>(&chosen)) check_chosen(*pod, *c, mode, selector);
        }
      }
    }
  }

 private:
  void remember_uid(const nlohmann::json& object) {
    if (uids_.size() >= 16 || !object.is_object()) return;
    auto md = object.find("metadata");
    if (md == object.end() || !md->is_object()) return;
    auto uid = md->find("uid");
    if (uid != md->end() && uid->is_string()) uids_.insert(uid->get<std::string>());
  }

  void check_chosen(const agent::PodInfo& pod, const agent::Chosen& c, agent::Mode mode,
                    const agent::IdentitySelector& selector) const {
    FUZZ_CHECK(c.identity != nullptr && c.binding != nullptr, "a choice without identity or binding");
    auto label = pod.labels.find(crd::kBindingLabel);
    FUZZ_CHECK(label != pod.labels.end() && label->second == c.binding->selector,
               "an identity chosen through a binding whose selector is not the pod's label");
    FUZZ_CHECK(c.binding->azure_identity == c.identity->name && c.binding->ns == c.identity->ns,
               "a binding chose an identity it does not name");
    if (selector.kind == agent::SelectorKind::kClientId) {
      FUZZ_CHECK(ascii::iequals(selector.value, c.identity->client_id), "an identity the request did not name");
    }
    if (mode != agent::Mode::kStandard) return;
    bool assigned = false;
    for (const auto* a : identities_.assigned_to_pod(pod.ns, pod.name)) {
      bool servable = a->state == crd::AssignedState::kAssigned || a->state == crd::AssignedState::kNone;
      assigned = assigned || (servable && a->identity_ns == c.identity->ns && a->identity_name == c.identity->name);
    }
    FUZZ_CHECK(assigned, "standard mode chose an identity no AzureAssignedIdentity assigns to the pod");
  }

  agent::PodStore pods_;
  agent::IdentityStore identities_;
  std::set<std::string> uids_;
};

}  // namespace podid::fuzz
