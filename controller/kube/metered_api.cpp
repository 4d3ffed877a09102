// SPDX-License-Identifier: Apache-2.0
#include "controller/kube/metered_api.h"

#include <boost/beast/http/verb.hpp>

namespace podid::controller::kube {
namespace bhttp = boost::beast::http;

namespace {

bhttp::verb method_for(std::string_view verb) {
  if (verb == "create") return bhttp::verb::post;
  if (verb == "update") return bhttp::verb::put;
  if (verb == "patch") return bhttp::verb::patch;
  if (verb == "delete") return bhttp::verb::delete_;
  return bhttp::verb::get;  // get, list
}

}  // namespace

MeteredApi::MeteredApi(k8s::ApiClient& api, prometheus::Registry& registry)
    : api_(api),
      requests_(prometheus::BuildCounter()
                    .Name("podid_controller_kube_requests_total")
                    .Help("Requests podid-controller made to the Kubernetes API, by verb, resource and HTTP status "
                          "(\"error\": no answer)")
                    .Register(registry)) {}

boost::asio::awaitable<Result<k8s::ApiResponse>> MeteredApi::call(std::string_view verb, std::string_view resource,
                                                                  std::string path, nlohmann::json body,
                                                                  std::string_view content_type) {
  auto method = method_for(verb);
  std::string type(content_type);
  // Copied before suspending: the views may point into the caller's temporaries.
  prometheus::Labels labels{{"verb", std::string(verb)}, {"resource", std::string(resource)}};
  auto res = co_await api_.request(method, std::move(path), std::move(body), std::move(type));
  labels["code"] = res ? std::to_string(res->status) : "error";
  requests_.Add(labels).Increment();
  co_return res;
}

}  // namespace podid::controller::kube
