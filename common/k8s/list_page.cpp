// SPDX-License-Identifier: Apache-2.0
#include "list_page.h"

#include "podid/error.h"

namespace podid::k8s::detail {
namespace {

using nlohmann::json;

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

std::string metadata_string(const json& object, const char* key) {
  const json* metadata = member(object, "metadata");
  const json* value = metadata ? member(*metadata, key) : nullptr;
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

Result<ListPage> take_list_page(json& body) {
  ListPage page;
  json* items = body.is_object() && body.contains("items") ? &body["items"] : nullptr;
  if (items != nullptr && items->is_array()) {
    page.items.reserve(items->size());
    for (json& item : *items) page.items.push_back(std::move(item));
  } else if (items != nullptr && !items->is_null()) {
    return malformed("items is not a list");
  }
  page.resource_version = metadata_string(body, "resourceVersion");
  page.continue_token = metadata_string(body, "continue");
  return page;
}

}  // namespace podid::k8s::detail
