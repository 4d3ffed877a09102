// SPDX-License-Identifier: Apache-2.0
//
// Everything behind the token endpoint, built from the configuration and owned in one place: the Kubernetes
// client, the watches and the stores they feed, the token sources and their cache,
// the token metrics, the ImdsService that answers pods and the log of its last decisions. Assembly only: no
// decision is made here. run_agent builds one when Kubernetes is enabled and hands ConnectionAdmission its service.
//
// Errors: create() returns Result (bad kubeconfig, no in-cluster credentials, a bad --imds-upstream);
// start() returns Status (the cgroup index could not start). Start-up turns either into a refusal to start.
#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/cgroup/cgroup_index.h"
#include "agent/config.h"
#include "agent/serve/imds_service.h"
#include "podid/k8s/api_client.h"
#include "podid/scraped_registry.h"
#include "podid/result.h"

namespace podid::agent {

class TokenStack {
 public:
  // `cgroups` (started and stopped by the caller, which also reads paths from it) must outlive the stack.
  static Result<std::unique_ptr<TokenStack>> create(boost::asio::io_context& io, const AgentConfig& config,
                                                    CgroupIndex& cgroups, ScrapedRegistry& registry);
  ~TokenStack();

  // Starts the watches.
  Status start();
  // Stops the watches; lookups keep answering from the last state.
  void stop();

  ImdsService& service();
  // The last decisions per pod the service made (for the decisions listener).
  const DecisionLog& decisions() const;
  k8s::ApiClient& api();
  // Empty when the caches are synced, else what is still missing (for /readyz).
  std::string not_ready_reason() const;

 private:
  struct Impl;
  explicit TokenStack(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::agent
