// SPDX-License-Identifier: Apache-2.0
//
// Reads one string claim from a JWT's payload without verifying it. Used only on tokens the agent itself just
// received over its own connection: an access token from IMDS or Entra ID, to learn an identity's object id
// (`oid`) so that requests naming `object_id` can be matched; a service-account token from the API server, to name
// its issuer in an error message. Never used to decide whom to trust.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podid::azure {

std::optional<std::string> unverified_jwt_claim(std::string_view jwt, std::string_view claim);

}  // namespace podid::azure
