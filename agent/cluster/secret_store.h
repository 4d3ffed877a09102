// SPDX-License-Identifier: Apache-2.0
//
// The Kubernetes Secrets that service-principal identities reference, kept current by one watch per Secret
// (list+watch with fieldSelector metadata.name=<name> in its namespace), not fetched per request as the
// predecessor did. The agent asks only for the Secrets its identities name, so its RBAC can be limited to
// them.
//
// Single-threaded: fed and read on the agent's io thread. Errors: a Secret that is absent or malformed
// simply has no data; the token source reports that to the caller.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "podid/k8s/api_client.h"
#include "podid/k8s/reflector.h"

namespace podid::agent {

using SecretName = std::pair<std::string, std::string>;  // namespace, name
using SecretData = std::map<std::string, std::string>;   // key -> decoded bytes

class SecretStore {
 public:
  SecretStore(boost::asio::any_io_executor executor, k8s::ApiClient& api);
  ~SecretStore();

  // Watches exactly these Secrets from now on: new ones start, unneeded ones stop and are forgotten.
  void track(const std::set<SecretName>& wanted);

  // The decoded data of a tracked Secret, or nullptr if it does not exist (or is not listed yet).
  const SecretData* data(const SecretName& name) const;
  // Bumps every time that Secret's data changes: part of a token source's cache key.
  uint64_t generation(const SecretName& name) const;

  // Every tracked Secret has been listed at least once.
  bool synced() const;
  // Reflector stats of each tracked Secret, for metrics.
  std::vector<std::pair<SecretName, k8s::ReflectorStats>> stats() const;

 private:
  struct Watched;
  void set_data(const SecretName& name, const nlohmann::json* secret);

  boost::asio::any_io_executor executor_;
  k8s::ApiClient& api_;
  std::map<SecretName, std::unique_ptr<Watched>> watched_;
};

}  // namespace podid::agent
