// SPDX-License-Identifier: Apache-2.0
//
// A page of a Kubernetes LIST answer as the agent's reflectors take it (common/k8s/list_page.h): its items
// replace each store's copy (every item to every store, as a broken API server could send them), identity
// choice runs over the result (support/agent_cluster.h), then every item is deleted again as a watch would.
// Input: the page's JSON.
//
// Properties: a page with a non-list `items` is refused, otherwise every item is taken; identity choice keeps
// its contract whatever the page held.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "agent_cluster.h"
#include "fuzz_check.h"
#include "k8s/list_page.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (body.is_discarded()) return 0;
  bool items_list = !body.is_object() || !body.contains("items") || body["items"].is_array() || body["items"].is_null();
  size_t count =
      items_list && body.is_object() && body.contains("items") && body["items"].is_array() ? body["items"].size() : 0;
  auto page = podid::k8s::detail::take_list_page(body);
  FUZZ_CHECK(page.ok() == items_list, "a page was refused or taken against its items' shape");
  if (!page) return 0;
  FUZZ_CHECK(page->items.size() == count, "items of a page were lost");

  podid::fuzz::AgentCluster cluster;
  cluster.replace_all(page->items);
  cluster.check_selection();
  for (const auto& item : page->items) {
    if (item.is_object()) cluster.apply(podid::k8s::WatchEventType::kDeleted, item);
  }
  cluster.check_selection();
  return 0;
}
