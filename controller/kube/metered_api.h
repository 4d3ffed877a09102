// SPDX-License-Identifier: Apache-2.0
//
// The controller's writes to the API server go through here, so each one is counted once, by Kubernetes verb,
// resource and outcome: podid_controller_kube_requests_total{verb,resource,code}, code being the HTTP status
// ("200", "409" ...) or "error" for a transport failure. A 409 storm or a 403 after an RBAC change shows up
// in one place.
//
// Errors: as k8s::ApiClient (Result errors are transport failures; statuses are returned to the caller).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <string>
#include <string_view>

#include "podid/k8s/api_client.h"
#include "podid/result.h"

namespace podid::controller::kube {

inline constexpr std::string_view kMergePatch = "application/merge-patch+json";
inline constexpr std::string_view kJsonPatch = "application/json-patch+json";

class MeteredApi {
 public:
  MeteredApi(k8s::ApiClient& api, prometheus::Registry& registry);

  // verb: the Kubernetes verb for the metric ("get", "create", "update", "patch", "delete"); resource: the
  // plural ("configmaps"). The HTTP method follows from the verb.
  boost::asio::awaitable<Result<k8s::ApiResponse>> call(std::string_view verb, std::string_view resource,
                                                        std::string path, nlohmann::json body = nullptr,
                                                        std::string_view content_type = "application/json");

  k8s::ApiClient& api() { return api_; }

 private:
  k8s::ApiClient& api_;
  prometheus::Family<prometheus::Counter>& requests_;
};

}  // namespace podid::controller::kube
