// SPDX-License-Identifier: Apache-2.0
//
// Percent-encoding for what the token sources send upstream: IMDS query values and Entra ID form fields.
// Everything but RFC 3986's unreserved characters is encoded, so the same function is right for a query and
// for application/x-www-form-urlencoded (a space becomes %20, which form decoders accept as well as '+').
#pragma once

#include <string>
#include <string_view>

namespace podid::agent {

std::string percent_encode(std::string_view text);

}  // namespace podid::agent
