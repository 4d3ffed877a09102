// SPDX-License-Identifier: Apache-2.0
//
// Everything behind the token endpoint, assembled from the configuration: the Kubernetes watches and the
// stores they feed, the cgroup -> pod index, the token sources and their cache, the metrics, and the
// ImdsService that answers pods. run_agent builds one when Kubernetes is enabled, and hands it each
// attributed connection.
//
// Errors: create() returns Result (bad kubeconfig, no in-cluster credentials, inotify failure): start-up
// turns it into a refusal to start.
#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/config.h"
#include "agent/serve/caller.h"
#include "agent/serve/imds_service.h"
#include "podid/metrics/registry.h"
#include "podid/result.h"

namespace podid::agent {

class TokenPath {
 public:
  static Result<std::unique_ptr<TokenPath>> create(boost::asio::io_context& io, const AgentConfig& config,
                                                   const std::filesystem::path& kubepods_dir,
                                                   metrics::Registry& registry);
  ~TokenPath();

  // Starts the cgroup index and the watches.
  Status start();
  void stop();

  ImdsService& service();
  // Empty when the caches are synced, else what is still missing (for /readyz).
  std::string not_ready_reason() const;

  // Per-pod connection slots: nullptr when the pod already holds max_connections_per_pod connections.
  // The slot is released when the returned object is destroyed (with the connection's handler).
  std::shared_ptr<void> acquire_connection_slot(const std::string& pod_uid);

  // Removes the configured startup taint from this node once (when first ready); logs the outcome.
  void remove_startup_taint();

 private:
  struct Impl;
  explicit TokenPath(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podid::agent
