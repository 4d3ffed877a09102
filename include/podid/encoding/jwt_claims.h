// SPDX-License-Identifier: Apache-2.0
//
// Reads one string claim from a JWT's payload without verifying it. Used only on tokens the agent itself
// just received from IMDS or Entra ID over its own connection, to learn an identity's object id (`oid`) so
// that requests naming `object_id` can be matched, and by `podid doctor` on its own ARM token, to name the
// principal a role assignment must go to. Never used to decide whom to trust.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podid::encoding {

std::optional<std::string> unverified_jwt_claim(std::string_view jwt, std::string_view claim);

}  // namespace podid::encoding
