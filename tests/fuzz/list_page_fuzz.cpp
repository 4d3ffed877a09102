// SPDX-License-Identifier: Apache-2.0
//
// A page of a Kubernetes LIST answer as both binaries' reflectors read it (parse_list_page,
// podid/k8s/api_client.h: each item handed out as its closing brace is read, the page never one tree): its items
// replace each of the agent's stores' copy (every item to every store, as a broken API server could send them),
// identity choice runs over the result (support/agent_cluster.h), then every item is deleted again as a watch
// would. Input: the page's bytes.
//
// Properties: a page is taken exactly when it is a JSON object with at most one `items`, absent, null or a
// list of objects, and then every item is handed out, in order, and none is left in the rest; identity choice keeps its
// contract whatever the page held.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "agent_cluster.h"
#include "fuzz_check.h"
#include "podid/k8s/api_client.h"

namespace {

using nlohmann::json;

// What the page should give, read independently of the streaming parser: the items, or nothing if refused.
bool expected_items(const json& page, std::vector<json>& items) {
  if (!page.is_object()) return false;
  auto it = page.find("items");
  if (it == page.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& item : *it) {
    if (!item.is_object()) return false;
    items.push_back(item);
  }
  return true;
}

// Top-level "items" keys, counted by a reading of its own (the whole-tree parse keeps the last of duplicates).
int top_level_items_keys(std::string_view text) {
  int count = 0;
  auto count_items_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed == "items") ++count;
    return true;
  };
  json whole = json::parse(text, count_items_keys, false);  // read for the count only
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto whole = json::parse(text, nullptr, false);

  std::vector<json> handed;
  auto rest = podid::k8s::parse_list_page(text, [&](json&& item) { handed.push_back(std::move(item)); });
  if (whole.is_discarded()) {
    FUZZ_CHECK(!rest.ok(), "a body that is not JSON was taken as a page");
    return 0;
  }
  std::vector<json> expected;
  bool takeable = expected_items(whole, expected) && top_level_items_keys(text) <= 1;
  FUZZ_CHECK(rest.ok() == takeable, "a page was refused or taken against its items' shape");
  if (!rest) return 0;
  FUZZ_CHECK(handed == expected, "the items handed out differ from the page's");
  FUZZ_CHECK(!rest->contains("items") || rest->at("items").is_null(), "items were left in the rest of the page");

  podid::fuzz::AgentCluster cluster;
  cluster.replace_all(handed);
  cluster.check_selection();
  for (const auto& item : handed) cluster.apply(podid::k8s::WatchEventType::kDeleted, item);
  cluster.check_selection();
  return 0;
}
