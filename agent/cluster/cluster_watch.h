// SPDX-License-Identifier: Apache-2.0
//
// What the agent watches in the Kubernetes API, and where each watch lands:
//   pods on this node (fieldSelector spec.nodeName=<node>)          -> PodStore
//   AzureIdentity, AzureIdentityBinding, AzurePodIdentityException    -> IdentityStore (cluster-wide, as the
//                                                                        predecessor's informers were)
//   AzureAssignedIdentity with label nodename=<node> (standard mode)  -> IdentityStore (the predecessor's
//                                                                        --enableScaleFeatures selector)
//   the Secrets that service-principal identities reference          -> SecretStore (one watch each)
//   ServiceAccounts (cluster-wide; with --federated)                  -> ServiceAccountStore (annotated ones)
// Nothing is fetched per request. While the API server is unreachable every store keeps its copy and the
// agent keeps serving from it; connected() says so, for /metrics.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/cluster/pod_store.h"
#include "agent/cluster/secret_store.h"
#include "agent/cluster/service_account_store.h"
#include "agent/config.h"
#include "agent/identity/identity_store.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/reflector.h"

namespace podid::agent {

class ClusterWatch {
 public:
  // `accounts` may be null: service accounts are then not watched (--federated false).
  ClusterWatch(boost::asio::any_io_executor executor, k8s::ApiClient& api, const AgentConfig& config,
               PodStore& pods, IdentityStore& identities, SecretStore& secrets, ServiceAccountStore* accounts);
  ~ClusterWatch();

  void start();
  void stop();

  // Every watch has listed at least once (readiness).
  bool synced() const;
  // Every watch is healthy right now.
  bool connected() const;
  // Per watch, for metrics: name -> stats.
  std::vector<std::pair<std::string, k8s::ReflectorStats>> stats() const;

 private:
  void add(std::string name, std::string path, std::string field_selector, std::string label_selector,
           k8s::ReflectorHandler handler);
  void track_secrets();

  boost::asio::any_io_executor executor_;
  k8s::ApiClient& api_;
  IdentityStore& identities_;
  SecretStore& secrets_;
  std::vector<std::unique_ptr<k8s::Reflector>> reflectors_;
};

}  // namespace podid::agent
