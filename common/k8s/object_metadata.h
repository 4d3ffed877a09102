// SPDX-License-Identifier: Apache-2.0
//
// What the Reflector reads of a list or an object's metadata, kept apart from the list/watch loop. A page's
// items are parsed as they stream (parse_list_page, podid/k8s/api_client.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace podid::k8s::detail {

// metadata.<key> of an object or of a list, when it is a string; "" otherwise.
std::string metadata_string(const nlohmann::json& object, const char* key);

}  // namespace podid::k8s::detail
