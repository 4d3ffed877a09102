// SPDX-License-Identifier: Apache-2.0
//
// Base64 (RFC 4648 §4, Kubernetes Secret data, kubeconfig *-data) and base64url without padding (§5, JWTs).
// Decoders return nullopt on any character outside the alphabet or a malformed length: a bad input is
// refused, never partly decoded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podid::encoding {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // padding required, whitespace refused

std::string base64url_encode(std::string_view bytes);              // no padding
std::optional<std::string> base64url_decode(std::string_view text);  // padding optional

}  // namespace podid::encoding
