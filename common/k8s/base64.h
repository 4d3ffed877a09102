// SPDX-License-Identifier: Apache-2.0
//
// The base64 of kubeconfig *-data fields (standard alphabet, padded, as Go's base64.StdEncoding writes it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podid::k8s::detail {

// nullopt on any character outside the alphabet, misplaced '=' or a length that is not a multiple of 4.
// Whitespace is skipped: hand-edited kubeconfigs wrap long values.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace podid::k8s::detail
