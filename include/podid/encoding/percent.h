// SPDX-License-Identifier: Apache-2.0
//
// Percent-encoding of a URL query value or form field: every byte but RFC 3986's unreserved characters
// (A-Z a-z 0-9 - . _ ~) becomes %XX (upper-case hex). Used for IMDS and Entra requests and Kubernetes selectors.
#pragma once

#include <string>
#include <string_view>

namespace podid::encoding {

std::string percent_encode(std::string_view text);

}  // namespace podid::encoding
