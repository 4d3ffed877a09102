// SPDX-License-Identifier: Apache-2.0
//
// ARM resource ids as the controller reads them (controller/arm/resource_id.h: scale sets, VMs, user-assigned
// identities, a node's spec.providerID) and as the CRD parser checks an AzureIdentity's resourceID
// (crd::is_user_assigned_resource_id). Input: the id's text.
//
// Properties: a parsed id writes back (id()) to text that parses to the same resource and names it under the
// same key; key() is canonical_key of the text; every resourceID the agent's CRD check accepts, the controller
// parses as a user-assigned identity; a providerID names a scale set or a VM.
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/arm/resource_id.h"
#include "fuzz_check.h"
#include "podid/crd/crd_types.h"

using namespace podid::controller::arm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto id = parse_resource_id(text)) {
    auto again = parse_resource_id(id->id());
    FUZZ_CHECK(again.ok() && *again == *id, "a resource id does not survive writing it back");
    FUZZ_CHECK(id->key() == canonical_key(id->id()), "key() is not the canonical key of id()");
    FUZZ_CHECK(same_id(text, id->id()), "the text and its id() name different resources");
  }
  if (podid::crd::is_user_assigned_resource_id(text)) {
    auto identity = parse_identity_id(text);
    FUZZ_CHECK(identity.ok(), "an AzureIdentity resourceID the controller cannot parse");
  }
  if (auto compute = parse_provider_id(text)) {
    FUZZ_CHECK(compute->kind == ResourceKind::kScaleSet || compute->kind == ResourceKind::kVirtualMachine,
               "a providerID that names neither a scale set nor a VM");
  }
  return 0;
}
