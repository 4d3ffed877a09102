// SPDX-License-Identifier: Apache-2.0
#include "cli/cluster_reader.h"

#include "podid/encoding/percent.h"
#include "podid/log.h"

namespace podid::cli {
namespace asio = boost::asio;

namespace {

constexpr const char* kGroupPath = "/apis/aadpodidentity.k8s.io/v1/";

std::string group_path(std::string_view plural) {
  std::string path = kGroupPath;
  path.append(plural);
  return path;
}

asio::awaitable<Result<std::vector<nlohmann::json>>> list_all(k8s::ApiClient& api, std::string path) {
  std::vector<nlohmann::json> items;
  std::string next;
  do {
    std::string page = path + "?limit=500";
    if (!next.empty()) page += "&continue=" + encoding::percent_encode(next);
    auto response = co_await api.get(page);
    if (!response) {
      log::error("cannot list", {{"path", path}, {"error", response.error().message()}});
      co_return response.error().wrap("list " + path);
    }
    if (!response->ok()) {
      log::error("cannot list", {{"path", path}, {"status", response->status}, {"error", response->message()}});
      co_return Error{std::make_error_code(response->status == 403 ? std::errc::permission_denied
                                                                     : std::errc::io_error),
                      "list " + path + ": HTTP " + std::to_string(response->status) + ": " + response->message()};
    }
    const auto& body = response->body;
    if (auto it = body.find("items"); it != body.end() && it->is_array()) {
      for (auto& item : *it) items.push_back(std::move(item));
    }
    next.clear();
    if (auto meta = body.find("metadata"); meta != body.end() && meta->is_object()) {
      if (auto c = meta->find("continue"); c != meta->end() && c->is_string()) next = c->get<std::string>();
    }
  } while (!next.empty());
  co_return items;
}

}  // namespace

asio::awaitable<Result<ListedObjects>> read_cluster(k8s::ApiClient& api) {
  ListedObjects out;
  struct Target {
    std::string path;
    std::vector<nlohmann::json>* into;
  };
  const Target targets[] = {
      {group_path("azureidentities"), &out.identities},
      {group_path("azureidentitybindings"), &out.bindings},
      {group_path("azureassignedidentities"), &out.assigned},
      {group_path("azurepodidentityexceptions"), &out.exceptions},
      {"/api/v1/pods", &out.pods},
      {"/api/v1/nodes", &out.nodes},
      {"/api/v1/serviceaccounts", &out.service_accounts},
  };
  for (const auto& t : targets) {
    auto items = co_await list_all(api, t.path);
    if (!items) co_return items.error();
    *t.into = std::move(items.value());
  }
  co_return out;
}

}  // namespace podid::cli
