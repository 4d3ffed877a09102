// SPDX-License-Identifier: Apache-2.0
#include "agent/cluster/startup_taint.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;

StartupTaint::StartupTaint(k8s::ApiClient& api, std::string node_name, std::string taint_key)
    : api_(api), node_name_(std::move(node_name)), taint_key_(std::move(taint_key)) {}

asio::awaitable<void> StartupTaint::remove_when_ready(std::function<bool()> ready) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  // Readiness first (checked often: pods wait for it), then the removal (retried at kRetryInterval).
  while (!ready()) {
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  while (!co_await remove_once()) {
    timer.expires_after(kRetryInterval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<bool> StartupTaint::remove_once() {
  const std::string path = "/api/v1/nodes/" + node_name_;
  auto node = co_await api_.get(path);
  if (!node || !node->ok()) {
    log::error("startup taint not removed: cannot read the node",
               {{"taint", taint_key_}, {"error", node ? node->message() : node.error().message()}});
    co_return false;
  }
  nlohmann::json taints = nlohmann::json::array();
  bool found = false;
  for (const auto& t : node->body.value("/spec/taints"_json_pointer, nlohmann::json::array())) {
    if (t.is_object() && t.value("key", "") == taint_key_) {
      found = true;
    } else {
      taints.push_back(t);
    }
  }
  if (!found) co_return true;
  nlohmann::json patch = {{"metadata", {{"resourceVersion", node->body["metadata"]["resourceVersion"]}}},
                          {"spec", {{"taints", taints}}}};
  const std::string content_type = "application/merge-patch+json";
  auto done = co_await api_.request(boost::beast::http::verb::patch, path, patch, content_type);
  if (!done || !done->ok()) {
    log::error("startup taint not removed",
               {{"taint", taint_key_}, {"error", done ? done->message() : done.error().message()}});
    co_return false;
  }
  log::info("startup taint removed: pods may be scheduled here", {{"taint", taint_key_}});
  co_return true;
}

}  // namespace podid::agent
