// SPDX-License-Identifier: Apache-2.0
//
// Which identity a token request names, if any: IMDS's client_id, object_id, msi_res_id / mi_res_id.
// Values keep the caller's spelling; every comparison against them is case-insensitive (Azure ids are).
#pragma once

#include <string>

namespace podid::agent {

enum class SelectorKind { kNone, kClientId, kObjectId, kResourceId };

struct IdentitySelector {
  SelectorKind kind = SelectorKind::kNone;
  std::string value;  // empty for kNone
  bool operator==(const IdentitySelector&) const = default;
};

}  // namespace podid::agent
