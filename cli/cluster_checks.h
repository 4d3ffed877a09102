// SPDX-License-Identifier: Apache-2.0
//
// The cluster-side checks of `podid doctor`: what is wrong in the aadpodidentity.k8s.io objects, the pods'
// labels and the agents, found from a ClusterView alone (no Azure). Pure: the same view gives the same findings.
//
// Codes (docs/doctor.md lists them with examples):
//   InvalidObject                  an object the agent and the controller skip (its parse error)
//   BindingIdentityMissing         spec.azureIdentity names no AzureIdentity in the binding's namespace
//   BindingIdentityInOtherNamespace  ... but one by that name exists in another namespace
//   SelectorCaseMismatch           no pod carries the selector, some carry it in another case
//   LabelKeyMismatch               pods carry the selector under a label key spelled in another case
//   SelectorMatchesNoPod (info)    no live pod carries the selector
//   NamespacedBindingSkipsPod      pods in another namespace carry the selector, but namespaced mode (the
//                                  identity's Behavior annotation, --force-namespaced, or managed mode) keeps
//                                  them from the binding
//   CompetingBindings              several identities for the same pods: a request naming none gets the first
//   AssignmentNotAssigned          an AzureAssignedIdentity not (yet) Assigned, with its identity's condition
//   AssignmentMissing              a pod bound to an identity, on a node, with no AzureAssignedIdentity
//   AgentNotInstalled / NodeWithoutAgent / AgentNotReady   a node whose pods' IMDS calls are refused
//   InvalidResourceID / InvalidProviderID / NameConflict / InvalidName   the controller's own problems
//                                  (controller/state/desired_state.h), found before it runs
#pragma once

#include <string_view>
#include <vector>

#include "agent/identity/selection.h"
#include "cli/cluster_view.h"
#include "cli/findings.h"
#include "controller/state/desired_state.h"

namespace podid::cli {

struct DoctorPolicy {
  agent::SelectionPolicy selection;         // mode and --force-namespaced, as the agent runs with them
  std::string podid_namespace = "podid-system";
};

std::vector<Finding> cluster_findings(const ClusterView& view, const DoctorPolicy& policy);

// The controller's input built from the view (raw objects left out: desired state does not read them), so
// doctor sees the same scale sets and problems podid-controller would. The view must outlive it.
controller::ClusterSnapshot desired_state_snapshot(const ClusterView& view, const DoctorPolicy& policy);

}  // namespace podid::cli
