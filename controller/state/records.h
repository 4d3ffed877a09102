// SPDX-License-Identifier: Apache-2.0
//
// The objects podid-controller reads, as the informer caches hold them: parsed once, on arrival, into compact
// typed records that keep only the fields the controller reads. Pods, nodes and AzureAssignedIdentities (the
// many) are never kept as JSON; an AzureAssignedIdentity keeps, instead of its embedded copies of identity
// and binding, a digest of what the plan compares (assignment_digest). AzureIdentities and bindings (the few)
// keep their JSON as well: AzureAssignedIdentities embed copies of them, and conditions are written on them.
// Pure, no I/O.
//
// Errors: Result. An object that does not parse is reported by the caches (a Warning Event, a metric) and
// left out.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "controller/state/interned.h"
#include "podid/crd/crd_types.h"
#include "podid/result.h"

namespace podid::controller {

// Annotation naming the scale set or VM an AzureAssignedIdentity stands for, and the label naming the pod (by
// uid) it was written for: what lets one request remove every AAI of pods that are gone.
inline constexpr std::string_view kComputeAnnotation = "podid.io/compute";
inline constexpr std::string_view kPodUidLabel = "podid.io/pod-uid";
inline constexpr std::string_view kNodeNameLabel = "nodename";
inline constexpr std::string_view kAssignedIdentityFinalizer = "azureassignedidentity.finalizers.aadpodidentity.k8s.io";

// An object parsed, plus its JSON (AzureIdentity and binding only).
template <class T>
struct Cached {
  T object;
  std::shared_ptr<const nlohmann::json> raw;
};
using IdentityRecord = Cached<crd::AzureIdentity>;
using BindingRecord = Cached<crd::AzureIdentityBinding>;

struct PodRecord {
  std::string ns, name, uid, node;  // node: spec.nodeName, "" while unscheduled
  std::string selector;             // the kBindingLabel's value
  bool labelled = false;            // carries kBindingLabel (the informer lists only those)
  bool finished = false;            // phase Succeeded or Failed

  // A pod being deleted still needs its identity through its grace period (its shutdown code may call Azure),
  // as with MIC; a finished or unscheduled one needs nothing.
  bool needs_identity() const { return labelled && !node.empty() && !finished; }
  bool operator==(const PodRecord&) const = default;
};

struct NodeRecord {
  std::string name;
  std::string provider_id;  // "" while the cloud provider has not set it
  bool operator==(const NodeRecord&) const = default;
};

// 128 bits of SHA-256 over a length-prefixed encoding of the compared fields.
using Digest = std::array<std::uint8_t, 16>;

struct AssignedRecord {
  std::string ns, name, resource_version;
  std::string pod, pod_namespace, node;  // spec.pod, spec.podNamespace, spec.nodename
  Interned compute;                      // kComputeAnnotation; null on the predecessor's AAIs
  std::string pod_uid;                   // kPodUidLabel; "" on the predecessor's AAIs and older podid ones
  crd::AssignedState state = crd::AssignedState::kNone;
  bool deleting = false;  // metadata.deletionTimestamp set
  int finalizer = -1;     // index of kAssignedIdentityFinalizer in metadata.finalizers; -1: none
  // What it stands for in Azure: the embedded identity's type and, for type 0, resource id. identity_parsed is
  // false when the embedded copy does not parse; identity_resource_id is then whatever resource id it names.
  bool identity_parsed = false;
  crd::IdentityType identity_type = crd::IdentityType::kUserAssigned;
  Interned identity_resource_id;  // never null ("" for types 1 and 2)
  // The embedded binding, for the Events about this AAI; name "" when it names none.
  std::string binding_ns, binding_name, binding_uid;
  // Of what the plan compares (pod, node, nodename label, compute annotation, the embedded identity and
  // binding); nullopt when an embedded copy does not parse (then it differs from any desired assignment).
  std::optional<Digest> digest;
};

Result<PodRecord> pod_record(const nlohmann::json& object);
Result<NodeRecord> node_record(const nlohmann::json& object);
// The JSON kept is the object without metadata.managedFields.
Result<std::shared_ptr<const IdentityRecord>> identity_record(const nlohmann::json& object);
Result<std::shared_ptr<const BindingRecord>> binding_record(const nlohmann::json& object);
Result<AssignedRecord> assigned_record(const nlohmann::json& object);

// "ns/name" (cluster-scoped: "name") of an object's metadata.
std::string metadata_key(const nlohmann::json& object);

// What an AzureAssignedIdentity states, as assigned_record digests it: built from the desired side.
struct AssignmentContent {
  std::string_view pod, pod_namespace, node;
  std::optional<std::string_view> node_label, compute;
  const crd::AzureIdentity* identity = nullptr;
  std::string_view identity_uid;
  const crd::AzureIdentityBinding* binding = nullptr;
  std::string_view binding_uid;
};
Digest assignment_digest(const AssignmentContent& content);

}  // namespace podid::controller
