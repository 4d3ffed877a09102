// SPDX-License-Identifier: Apache-2.0
//
// ARM resource ids of the things podid-controller touches: scale sets, standalone VMs, user-assigned
// identities, and a node's spec.providerID. Pure parsing, no I/O.
//
// ARM ids are case-insensitive ("resourceGroups" comes back as "resourcegroups", names in any case), so every
// comparison goes through key(): the id lower-cased, without a trailing slash. Parsers return Result<T> with
// std::errc::invalid_argument and the offending text as context.
#pragma once

#include <string>
#include <string_view>

#include "podid/result.h"

namespace podid::controller::arm {

enum class ResourceKind {
  kScaleSet,              // Microsoft.Compute/virtualMachineScaleSets/<name>
  kVirtualMachine,        // Microsoft.Compute/virtualMachines/<name> (standalone VM or VMSS Flex member)
  kUserAssignedIdentity,  // Microsoft.ManagedIdentity/userAssignedIdentities/<name>
};

struct ResourceId {
  ResourceKind kind = ResourceKind::kScaleSet;
  std::string subscription;    // as written
  std::string resource_group;  // as written
  std::string name;            // as written

  // "/subscriptions/<s>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>" in ARM's usual casing.
  std::string id() const;
  // id() lower-cased: the map key and the only thing compared.
  std::string key() const;

  friend bool operator==(const ResourceId& a, const ResourceId& b) { return a.kind == b.kind && a.key() == b.key(); }
};

// Parses a VMSS, VM or user-assigned identity id (segment names case-insensitive). Child resources (e.g. a VMSS
// instance) and other types are rejected.
Result<ResourceId> parse_resource_id(std::string_view id);

// Parses an id that must be a user-assigned identity.
Result<ResourceId> parse_identity_id(std::string_view id);

// What to PATCH for a node: spec.providerID
//   azure:///subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachineScaleSets/<vmss>/virtualMachines/<i>
//     -> the scale set (kScaleSet);
//   azure:///subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>
//     -> the VM (kVirtualMachine). VMSS Flex members look exactly like this; they take identities per VM.
Result<ResourceId> parse_provider_id(std::string_view provider_id);

// Canonical key of any id string: lower-cased (ASCII), trailing '/' dropped. Two ids name the same resource iff
// their keys are equal.
std::string canonical_key(std::string_view id);
bool same_id(std::string_view a, std::string_view b);

}  // namespace podid::controller::arm
