// SPDX-License-Identifier: Apache-2.0
//
// `podid explain NAMESPACE/POD`: why a pod gets (or does not get) an identity, from the same objects and the
// same code the node's agent uses (agent/identity/selection.h: bound_identities, then select_identity for a
// request that names no identity), plus what the controller did about it (its AzureAssignedIdentities) and,
// when ARM can be read, whether the chosen identity is on the pod's scale set or VM. Pure except
// record_compute's input, which the caller reads from ARM.
// The pod's cgroup and the agent's last token decisions for it, which only the node's agent knows, come from
// its decisions listener (agent_report.h) and are set by the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/agent_report.h"
#include "cli/arm_checks.h"
#include "cli/cluster_checks.h"
#include "cli/cluster_view.h"

namespace podid::cli {

struct BindingMatch {
  std::string binding, identity;  // "ns/name"
  bool servable = false;          // rule 3: may be served now (Assigned, or managed mode)
};

struct NearMiss {
  std::string binding;  // "ns/name"
  std::string why;
};

struct AssignmentFacts {
  std::string name, identity, state, node;
};

struct Explanation {
  bool found = false;
  crd::PodInfo pod;
  std::string label;  // the pod's aadpodidbinding value; "" when it has none
  std::string outcome;  // "identity" (one is chosen), "excepted" (the node's own), "none"
  std::string identity, binding, client_id, resource_id;  // the chosen identity and its binding ("ns/name")
  std::string rule;    // the selection rule that decided, in words
  std::string reason;  // outcome "none": no_binding, not_assigned_yet, ambiguous, ... (selection.h)
  std::vector<BindingMatch> matches;
  std::vector<NearMiss> near_misses;
  std::vector<AssignmentFacts> assignments;
  std::string compute_id;     // the node's scale set or VM, from its providerID
  std::string compute_note;   // why the compute or its identities are unknown
  std::optional<bool> on_compute;  // the chosen identity is in the compute's identity block (ARM GET)
  AgentReport agent;               // what the pod's node agent says: its cgroup, its last decisions
};

Explanation explain_pod(const ClusterView& view, std::string_view ns, std::string_view name,
                        const DoctorPolicy& policy);

// Sets on_compute from ARM's GET of the compute (its identity.userAssignedIdentities), or compute_note.
void record_compute(Explanation& explanation, const ArmAnswer& compute);

// 0 when the pod gets an identity (or is excepted, and so served the node's), 1 otherwise.
int exit_status(const Explanation& explanation);

}  // namespace podid::cli
