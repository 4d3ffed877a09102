// SPDX-License-Identifier: Apache-2.0
//
// The startup taint (--startup-taint): a taint on this node that keeps ordinary pods away until the agent can
// answer them. run_agent starts the removal once the agent is ready; it is a step of its own, taken once, not
// a side effect of anyone asking /readyz.
//
// The node is read, the taint dropped from its list, and the list written back with the node's
// resourceVersion (a merge patch replaces lists), so a concurrent change to the taints fails the write
// instead of being lost; a failed write is retried every kRetryInterval until it lands or the taint is gone.
//
// Errors: logged (one line per attempt) and retried; nothing is returned.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "podid/k8s/api_client.h"

namespace podid::agent {

class StartupTaint {
 public:
  static constexpr std::chrono::seconds kRetryInterval{2};

  // `ready` says whether the agent can serve pods now (programs attached, caches synced).
  StartupTaint(k8s::ApiClient& api, std::string node_name, std::string taint_key);

  // Waits until ready() holds, then removes the taint (retrying); returns once it is gone from the node.
  boost::asio::awaitable<void> remove_when_ready(std::function<bool()> ready);

 private:
  // True once the node carries no such taint (removed now or absent already).
  boost::asio::awaitable<bool> remove_once();

  k8s::ApiClient& api_;
  std::string node_name_;
  std::string taint_key_;
};

}  // namespace podid::agent
