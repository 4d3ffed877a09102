// SPDX-License-Identifier: Apache-2.0
//
// What a pod gets when it calls IMDS through the agent. One request, in this order:
//   1. the path: the token endpoint, a malformed variant of it (400, never forwarded), or another IMDS path
//      (passthrough under the policy);
//   2. the token request itself, checked as IMDS checks it (imds/token_request.h);
//   3. the pod: from the cgroups the kernel recorded (CgroupIndex) to the pod object (PodStore); the
//      source address must be one of the pod's IPs unless it uses hostNetwork. Until every watch of the
//      cluster has listed once (an agent just started: the kernel's pinned links send pods to it at once), the
//      answer is the retryable pending one: a binding or assignment missing from a half-filled copy is not
//      missing from the cluster, and "Identity not found" would be final for the pod's SDK;
//   4. the identity (identity/selection.h): the bound one, the one the pod's service account names (Azure
//      Workload Identity's conventions), the node's for exception pods, or Azure's answer for none / several /
//      not yet assigned (fast, retryable; an optional short bounded wait);
//   5. the token, from the cache (one upstream call per miss however many pods wait); for a federated identity
//      the cache is keyed by (identity, the pod's service account) and a miss exchanges the pod's own
//      service-account token at Entra ID.
// Every decision is counted (TokenMetrics) and written as one audit line. A token served from the cache may be
// given again by the server, for the same request on the same connection, while nothing it was decided from
// changes (token_replay.h); each such answer is counted and audited as well.
//
// Single-threaded: runs on the agent's io thread, as do the stores it reads.
//
// GCC 12: arguments of a co_await'ed call are named locals here, never temporaries (GCC 12 destroys some
// temporaries in co_await expressions twice), and no co_await sits inside a conditional expression.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "agent/cgroup/cgroup_index.h"
#include "agent/cluster/pod_store.h"
#include "agent/cluster/service_account_store.h"
#include "agent/identity/identity_store.h"
#include "agent/identity/selection.h"
#include "agent/imds/imds_errors.h"
#include "agent/imds/passthrough.h"
#include "agent/serve/caller.h"
#include "agent/serve/decision_log.h"
#include "agent/serve/token_metrics.h"
#include "agent/serve/token_replay.h"
#include "agent/serve/token_sources.h"
#include "podid/azure/token_cache.h"
#include "podid/clock.h"
#include "podid/http/client.h"
#include "podid/http/server.h"

namespace podid::agent {

struct ImdsServiceSettings {
  SelectionPolicy selection;
  bool verify_source_ip = true;
  imds::PendingAnswer pending_answer = imds::PendingAnswer::kNotFound404;
  std::chrono::seconds pending_retry_after{5};
  // How long a request may wait for its pod or its identity's assignment to show up before the pending answer.
  std::chrono::milliseconds assignment_wait{0};
  imds::PassthroughPolicy passthrough;
  http::Url imds_base;  // the real IMDS, for passthrough
};

struct ImdsServiceDeps {
  const CgroupIndex& cgroups;
  const PodStore& pods;
  IdentityStore& identities;
  ServiceAccountStore* accounts;  // null: Azure Workload Identity's conventions are not honoured (--federated false)
  TokenSources& sources;
  TokenCache& cache;
  http::Client& passthrough_client;
  TokenMetrics& metrics;
  const WallClock& clock;
  std::function<bool()> caches_synced = {};  // every watch has listed once; empty: always
  DecisionLog* decisions = nullptr;          // keeps each decision for `podid explain`; null: not kept
};

class ImdsService {
 public:
  ImdsService(ImdsServiceDeps deps, ImdsServiceSettings settings);

  // `req` and `caller` must outlive the returned awaitable (the session holds both). A token served from the
  // cache comes with a Replay (token_replay.h) when nothing but the request's bytes could change it.
  boost::asio::awaitable<http::Answer> handle(const http::Request& req, const Caller& caller);

  // The pod UID of the kernel's record (the caller's cgroup, else its pod-level ancestor), or empty. The one
  // resolver: admission asks it once per connection, and a request waiting for its pod asks it again.
  std::string pod_uid_of(const podid_caller& kernel_record) const;

  TokenMetrics& metrics() { return deps_.metrics; }

 private:
  struct Outcome;
  boost::asio::awaitable<http::Answer> token(const http::Request& req, Caller& caller);
  boost::asio::awaitable<http::Response> passthrough(const http::Request& req, const Caller& caller);
  const PodInfo* find_pod(Caller& caller) const;
  boost::asio::awaitable<const PodInfo*> await_pod(Caller& caller);
  boost::asio::awaitable<Selection> await_selection(const std::string& pod_uid, Selection selection,
                                                    const IdentitySelector& selector, const std::string& resource,
                                                    const FetchContext& context);
  WorkloadIdentityClaim claim_of(const PodInfo& pod) const;
  Result<std::shared_ptr<TokenSource>> source_for(const AzureIdentity& identity, const PodInfo& pod);
  void learn_principal(const AccessToken& token);
  bool caches_synced();

  ImdsServiceDeps deps_;
  ImdsServiceSettings settings_;
  bool synced_once_ = false;
  DecisionInputs inputs_;
};

}  // namespace podid::agent
