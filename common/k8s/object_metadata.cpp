// SPDX-License-Identifier: Apache-2.0
#include "object_metadata.h"

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

}  // namespace podid::k8s::detail
