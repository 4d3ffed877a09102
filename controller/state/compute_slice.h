// SPDX-License-Identifier: Apache-2.0
//
// One compute's share of the cluster, taken from the indexes when its round starts: its desired state, the
// AzureAssignedIdentities its round weighs and the plan over them (assignment_plan.h). Held by value (the
// caches keep changing while the round waits for ARM) and built in time proportional to that compute's pods,
// not the cluster's. Pure, no I/O.
//
// The AAIs weighed for compute K: those desired on K (by name), those naming K (kComputeAnnotation) that are not
// desired anywhere or are being deleted, and the predecessor's on K's nodes likewise; for K = "" also the
// predecessor's on nodes that are no Azure VM. The identities and bindings are the current ones (an identity's
// status changes, not what its AAIs state, and conditions are written against the current object).
//
// Errors: none.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/state/assigned_index.h"
#include "controller/state/assignment_plan.h"
#include "controller/state/desired_index.h"

namespace podid::controller {

struct ComputeSlice {
  std::string key;
  std::optional<ComputeNeed> need;         // nullopt: no node of the cluster is on it
  std::vector<DesiredAssignment> desired;  // the AAIs desired on it, by (namespace, name)
  AssignedRecords existing;                // the AAIs its round weighs
  AssignmentPlan plan;                     // over desired and existing
  // User-assigned resource ids of the identities whose client id is immutable (never removed).
  std::vector<std::string> immutable_ids;
  // For the AAIs this round may remove whose pod is gone (or no longer needs an identity), by (namespace, pod
  // uid label): how many AAIs with that label exist in that namespace, the cluster over.
  std::map<std::pair<std::string, std::string>, std::size_t> gone_pod_aais;
};

// `immutable_client_ids` lower-case.
ComputeSlice make_compute_slice(const DesiredIndex& desired, const AssignedIndex& existing, std::string_view key,
                                const std::vector<std::string>& immutable_client_ids);

// Whether the slice's plan leaves an AAI of this compute to create, update or remove, or one kept that is not
// Assigned.
bool has_pending_assignments(const ComputeSlice& slice);

}  // namespace podid::controller
