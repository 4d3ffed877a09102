// SPDX-License-Identifier: Apache-2.0
//
// One page of a LIST answer as the Reflector reads it, kept apart from the list/watch loop so that the fuzz
// targets parse pages without an API server.
//
// Errors: Result, Errc::kMalformed (podid/error.h) when `items` is there but not a list.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "podid/result.h"

namespace podid::k8s::detail {

struct ListPage {
  std::vector<nlohmann::json> items;  // absent or null `items`: none
  std::string resource_version;       // metadata.resourceVersion; "" when absent or not a string
  std::string continue_token;         // metadata.continue; "" on the last page
};

// metadata.<key> of an object or of a list, when it is a string; "" otherwise.
std::string metadata_string(const nlohmann::json& object, const char* key);

// Takes the page's items out of `body` (moved, not copied: a page may hold 500 large objects).
Result<ListPage> take_list_page(nlohmann::json& body);

}  // namespace podid::k8s::detail
