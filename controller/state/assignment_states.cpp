// SPDX-License-Identifier: Apache-2.0
#include "controller/state/assignment_states.h"

#include <set>

#include "controller/arm/resource_id.h"

namespace podid::controller {
namespace {

using Kind = StateChange::Kind;

std::set<std::string, std::less<>> keys_of(const std::vector<std::string>& ids) {
  std::set<std::string, std::less<>> out;
  for (const auto& id : ids) out.insert(arm::canonical_key(id));
  return out;
}

class Settler {
 public:
  Settler(const AssignmentPlan& plan, std::string_view compute_key, const ComputeObservation& observation)
      : plan_(plan),
        compute_key_(compute_key),
        observation_(observation),
        present_(keys_of(observation.present)),
        removable_(keys_of(observation.removable)) {
    for (const auto& [id, message] : observation.set_aside) set_aside_.emplace(arm::canonical_key(id), message);
    for (const auto* list : {&plan.create, &plan.update, &plan.keep}) {
      for (const auto& item : *list) {
        if (item.compute_key == compute_key_ && !item.identity_resource_id.empty()) {
          still_needed_.insert(arm::canonical_key(item.identity_resource_id));
        }
      }
    }
  }

  std::vector<StateChange> settle() {
    for (const auto* list : {&plan_.create, &plan_.update, &plan_.keep}) {
      for (const auto& item : *list) {
        if (item.compute_key == compute_key_) settle_desired(item);
      }
    }
    for (const auto& item : plan_.remove) {
      if (item.compute_key == compute_key_ && may_go(item)) {
        changes_.push_back({Kind::kRemove, &item, item.state != crd::AssignedState::kUnassigned, {}});
      }
    }
    return std::move(changes_);
  }

 private:
  void assigned(const PlanItem& item) {
    if (item.state != crd::AssignedState::kAssigned) changes_.push_back({Kind::kAssigned, &item, true, {}});
  }

  void created(const PlanItem& item, std::string error) {
    changes_.push_back({Kind::kCreated, &item, item.state != crd::AssignedState::kCreated, std::move(error)});
  }

  void settle_desired(const PlanItem& item) {
    if (item.identity_resource_id.empty()) return assigned(item);
    if (compute_key_.empty()) {
      std::string node = item.desired != nullptr ? item.desired->node : std::string("?");
      return created(item, "node " + node + " is not an Azure VM or scale-set instance (no usable spec.providerID)");
    }
    const std::string key = arm::canonical_key(item.identity_resource_id);
    if (!observation_.observed) {
      if (item.state == crd::AssignedState::kAssigned || item.state == crd::AssignedState::kNone) return;
      return created(item, round_error());
    }
    if (present_.contains(key)) return assigned(item);
    if (auto it = set_aside_.find(key); it != set_aside_.end()) return created(item, it->second);
    if (!observation_.error.empty()) return created(item, observation_.error);
    return created(item, "identity " + item.identity_resource_id + " is not on " + compute_key_ + " yet");
  }

  bool may_go(const PlanItem& item) const {
    if (item.identity_resource_id.empty() || compute_key_.empty()) return true;
    const std::string key = arm::canonical_key(item.identity_resource_id);
    if (still_needed_.contains(key) || !removable_.contains(key)) return true;
    return observation_.observed && !present_.contains(key);
  }

  std::string round_error() const {
    return observation_.error.empty() ? "the last round learned nothing about " + compute_key_ : observation_.error;
  }

  const AssignmentPlan& plan_;
  std::string compute_key_;
  const ComputeObservation& observation_;
  std::set<std::string, std::less<>> present_, removable_, still_needed_;
  std::map<std::string, std::string, std::less<>> set_aside_;  // canonical key -> message
  std::vector<StateChange> changes_;
};

}  // namespace

std::vector<StateChange> settle_states(const AssignmentPlan& plan, std::string_view compute_key,
                                       const ComputeObservation& observation) {
  return Settler(plan, compute_key, observation).settle();
}

}  // namespace podid::controller
