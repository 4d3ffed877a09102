// SPDX-License-Identifier: Apache-2.0
//
// The identity PATCH bodies for one VMSS or VM: pure, no I/O.
//
// Rules (aad-pod-identity §2.6/§2.7, ARM wire format §5.3), with one deliberate difference from MIC: podid keeps
// a ledger of the identities it added, and only those may ever be removed. So an identity is
//   - added   when desired and absent from the resource;
//   - removed when present, in the ledger, not desired (desired already covers "in use" by any pod on the
//             scale set) and not immutable;
//   - left alone otherwise: a pre-existing identity (not in the ledger) is never removed, even if it was also
//     desired once and is no longer (unlike MIC, #898).
// All id comparisons are case-insensitive. Ids are sent as ARM's current body spells them when present, else as
// the desired set spells them.
//
// Bodies: {"identity":{"type":T,"userAssignedIdentities":{"<id>":{},"<id>":null}}}, at most kMaxEntriesPerPatch
// entries each, to be sent in order. Adds come first (sorted by key), then removes (sorted by key), so a failure
// half-way never leaves the resource with fewer identities than it started with. T keeps SystemAssigned when the
// resource has it. When a body leaves no user-assigned identity, it is {"identity":{"type":"SystemAssigned"|"None"}}
// with no dictionary (ARM rejects a dictionary with those types, and the type alone drops every remaining UAMI);
// that can only be the last body. No change -> no bodies.
//
// Errors: Result<T> with std::errc::invalid_argument for a malformed current identity block.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "podid/result.h"

namespace podid::controller::arm {

inline constexpr std::size_t kMaxEntriesPerPatch = 150;  // ARM: "... Assign exceed limit '150' in one request"

struct IdentityDeltaInput {
  // The "identity" member of ARM's GET body; null or absent means type None.
  nlohmann::json current = nullptr;
  std::vector<std::string> desired;    // UAMI ids that must be on the resource
  std::vector<std::string> ledger;     // UAMI ids this controller added earlier
  std::vector<std::string> immutable;  // UAMI ids never to remove
};

struct IdentityDelta {
  std::vector<nlohmann::json> bodies;  // PATCH bodies, in the order to send them
  std::vector<std::string> added;      // ids (as sent) the bodies add: the caller adds them to its ledger
  std::vector<std::string> removed;    // ids (as sent) the bodies remove: the caller drops them from its ledger
  bool empty() const { return bodies.empty(); }
};

Result<IdentityDelta> compute_identity_delta(const IdentityDeltaInput& in,
                                             std::size_t max_entries = kMaxEntriesPerPatch);

}  // namespace podid::controller::arm
