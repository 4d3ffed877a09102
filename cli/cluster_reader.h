// SPDX-License-Identifier: Apache-2.0
//
// Reads what doctor and explain look at from the Kubernetes API: the four aadpodidentity.k8s.io kinds, pods and
// nodes, each listed in pages of 500 (limit/continue), so a 1,000-node cluster's pods are a few dozen requests
// and never one huge answer. Read-only: doctor writes nothing to the cluster.
//
// Errors: Result. A transport failure or a non-2xx answer (403 for a kubeconfig that may not list pods, 404 for
// a cluster without the CRDs) is an Error naming the list and the API's message; one error-level log line each.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "cli/cluster_view.h"
#include "podid/k8s/api_client.h"
#include "podid/result.h"

namespace podid::cli {

boost::asio::awaitable<Result<ListedObjects>> read_cluster(k8s::ApiClient& api);

}  // namespace podid::cli
