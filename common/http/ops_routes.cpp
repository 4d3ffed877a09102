// SPDX-License-Identifier: Apache-2.0
#include "podid/http/ops_routes.h"

namespace podid::http {

Response handle_ops(const Request& req, const OpsState& state) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    bool live = state.live && state.live();
    return text_response(req, live ? Status::ok : Status::service_unavailable, live ? "ok\n" : "not serving\n",
                         "text/plain; charset=utf-8");
  }
  if (path == "/readyz") {
    std::string why = state.ready ? state.ready() : "no readiness check";
    std::string detail = state.detail ? state.detail() : "";
    return text_response(req, why.empty() ? Status::ok : Status::service_unavailable,
                         (why.empty() ? "ok\n" : why + "\n") + detail, "text/plain; charset=utf-8");
  }
  if (path == "/metrics") {
    return text_response(req, Status::ok, state.metrics ? state.metrics() : "",
                         "text/plain; version=0.0.4; charset=utf-8");
  }
  return text_response(req, Status::not_found, "not found\n", "text/plain; charset=utf-8");
}

}  // namespace podid::http
