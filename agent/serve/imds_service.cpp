// SPDX-License-Identifier: Apache-2.0
#include "agent/serve/imds_service.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>

#include "agent/imds/imds_paths.h"
#include "agent/imds/token_request.h"
#include "agent/imds/token_response.h"
#include "agent/serve/audit.h"
#include "agent/serve/token_replay.h"
#include "podid/azure/jwt_claims.h"
#include "podid/crd/workload_identity.h"
#include "podid/log.h"

namespace podid::agent {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// How often a waiting request looks again for its pod or its assignment.
constexpr std::chrono::milliseconds kWaitPoll{10};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

std::string_view source_name(const Served& served) { return served.from_cache ? "cache" : "upstream"; }

}  // namespace

// What one token request ended as: the answer, and what the audit line and the metrics say about it.
struct ImdsService::Outcome {
  http::Response response;
  std::string_view decision;
  std::string reason;
  std::string_view source;
  std::string client_id;
  std::string subject;  // the service account a federated token was exchanged for
  bool replayable = false;  // a served answer of this kind may be replayed (token_replay.h)
  std::chrono::system_clock::time_point answered_at;  // the `now` a served answer's lifetimes count from
};

ImdsService::ImdsService(ImdsServiceDeps deps, ImdsServiceSettings settings)
    : deps_(deps),
      settings_(std::move(settings)),
      inputs_{deps_.pods, deps_.identities, deps_.accounts, deps_.cache, deps_.clock} {}

std::string ImdsService::pod_uid_of(const podid_caller& kernel_record) const {
  if (auto uid = deps_.cgroups.pod_uid_of(kernel_record.cgroup_id)) return *uid;
  // A container that exited between connect() and now is gone from the index; its pod's cgroup is not.
  for (uint64_t ancestor : kernel_record.ancestor_cgroup_id) {
    if (ancestor == 0) continue;
    if (auto uid = deps_.cgroups.pod_uid_of(ancestor)) return *uid;
  }
  return {};
}

asio::awaitable<http::Answer> ImdsService::handle(const http::Request& req, const Caller& from) {
  Caller caller = from;  // resolved further while the request is served
  switch (imds::classify_path(req.target())) {
    case imds::PathKind::kToken:
      co_return co_await token(req, caller);
    case imds::PathKind::kMalformedToken: {
      // Looks like the token endpoint but is not exactly it: refused here, never forwarded, where IMDS
      // might read it as a token request on the node's behalf.
      auto error = imds::malformed_token_path();
      audit_token_decision({.pod_uid = caller.pod_uid, .cgroup_id = caller.cgroup_id(), .decision = "bad_request",
                            .reason = error.reason, .status = static_cast<unsigned>(error.status)},
                           deps_.decisions);
      co_return http::Answer{imds::to_response(req, error)};
    }
    case imds::PathKind::kIdentityNotServed: {
      // Never forwarded: the real IMDS would answer for the node (MSI v2 would issue it a credential).
      auto error = imds::identity_path_not_served(imds::is_msi_v2_path(req.target()));
      deps_.metrics.passthrough("blocked");
      audit_token_decision({.pod_uid = caller.pod_uid, .cgroup_id = caller.cgroup_id(), .decision = "refused",
                            .reason = error.reason, .status = static_cast<unsigned>(error.status)},
                           deps_.decisions);
      co_return http::Answer{imds::to_response(req, error)};
    }
    case imds::PathKind::kOther: {
      http::Response relayed = co_await passthrough(req, caller);
      co_return http::Answer{std::move(relayed)};
    }
  }
  co_return http::Answer{imds::to_response(req, imds::internal_error("unknown_path_kind"))};
}

bool ImdsService::caches_synced() {
  // Latched: once every watch has listed, a later outage serves from the last copy (podid_k8s_api_reachable).
  if (!synced_once_) synced_once_ = !deps_.caches_synced || deps_.caches_synced();
  return synced_once_;
}

const PodInfo* ImdsService::find_pod(Caller& caller) const {
  if (caller.pod_uid.empty()) caller.pod_uid = pod_uid_of(caller.ident.caller);
  return caller.pod_uid.empty() ? nullptr : deps_.pods.by_uid(caller.pod_uid);
}

asio::awaitable<const PodInfo*> ImdsService::await_pod(Caller& caller) {
  auto deadline = Clock::now() + settings_.assignment_wait;
  for (;;) {
    if (const PodInfo* pod = find_pod(caller)) co_return pod;
    if (Clock::now() >= deadline) co_return nullptr;
    co_await sleep_for(kWaitPoll);
  }
}

void ImdsService::learn_principal(const AccessToken& token) {
  if (auto oid = azure::unverified_jwt_claim(token.access_token, "oid"); oid && !token.client_id.empty()) {
    deps_.identities.learn_principal_id(token.client_id, *oid);
    if (deps_.accounts) deps_.accounts->learn_principal_id(token.client_id, *oid);
  }
}

WorkloadIdentityClaim ImdsService::claim_of(const PodInfo& pod) const {
  WorkloadIdentityClaim claim;
  if (!deps_.accounts || !wants_workload_identity(pod)) return claim;
  claim.requested = true;
  claim.identity = deps_.accounts->workload_identity(pod.ns, pod.service_account);
  return claim;
}

Result<std::shared_ptr<TokenSource>> ImdsService::source_for(const AzureIdentity& identity, const PodInfo& pod) {
  return identity.federated ? deps_.sources.federated(identity, pod) : deps_.sources.for_identity(identity);
}

// Waits between choices, so the pod is looked up by UID each time: the store frees a pod it drops, and a pod
// gone meanwhile ends the wait with the last choice (the caller looks the pod up again and answers pod_deleted).
asio::awaitable<Selection> ImdsService::await_selection(const std::string& pod_uid, Selection selection,
                                                        const IdentitySelector& selector, const std::string& resource,
                                                        const FetchContext& context) {
  auto deadline = Clock::now() + settings_.assignment_wait;
  bool learned = false;
  for (;;) {
    auto* none = std::get_if<NoIdentity>(&selection);
    if (!none) co_return selection;
    // object_id names an identity by its principal id, which the agent learns from a token's `oid` claim:
    // fetch (through the cache) one token per candidate not known yet, then choose again. Once.
    if (!learned && !none->unresolved_principals.empty()) {
      learned = true;
      std::vector<AzureIdentity> unresolved;
      for (const AzureIdentity* i : none->unresolved_principals) unresolved.push_back(*i);
      for (const AzureIdentity& identity : unresolved) {
        const PodInfo* current = deps_.pods.by_uid(pod_uid);  // each fetch may outlast the pod
        if (!current) co_return selection;
        auto made = source_for(identity, *current);
        if (!made) continue;
        std::shared_ptr<TokenSource> source = *made;
        Served served = co_await deps_.cache.get(source, resource, context);
        if (auto* token = std::get_if<AccessToken>(&served.outcome)) learn_principal(*token);
      }
    } else if (none->reason != NoIdentity::kNotAssignedYet || Clock::now() >= deadline) {
      co_return selection;
    } else {
      co_await sleep_for(kWaitPoll);
    }
    const PodInfo* pod = deps_.pods.by_uid(pod_uid);
    if (!pod) co_return selection;
    selection = select_identity(deps_.identities, *pod, selector, settings_.selection, claim_of(*pod));
  }
}

asio::awaitable<http::Answer> ImdsService::token(const http::Request& req, Caller& caller) {
  const auto start = Clock::now();
  auto parsed = imds::parse_token_request(req);
  if (auto* error = std::get_if<imds::ImdsError>(&parsed)) {
    // Includes the SDK probe (no query, no Metadata header): answered at once, without resolving anything.
    audit_token_decision({.pod_uid = caller.pod_uid, .cgroup_id = caller.cgroup_id(), .decision = "bad_request",
                          .reason = error->reason, .status = static_cast<unsigned>(error->status),
                          .latency = Clock::now() - start},
                         deps_.decisions);
    co_return http::Answer{imds::to_response(req, *error)};
  }
  const imds::TokenRequest& request = std::get<imds::TokenRequest>(parsed);

  Outcome out{.decision = "refused"};
  const bool synced = caches_synced();
  // A decision made from one state of the stores, without waiting, may be replayed (token_replay.h).
  const uint64_t inputs_at_start = inputs_.generation();
  bool waited = false;
  // The usual case needs no waiting: look up synchronously, and enter the waiting coroutine only if needed.
  const PodInfo* pod = find_pod(caller);
  if (!pod && synced && settings_.assignment_wait.count() > 0) {
    waited = true;
    pod = co_await await_pod(caller);
  }
  auto pending = [&](std::string reason) {
    out.response = imds::to_response(req, imds::identity_not_assigned(settings_.pending_answer,
                                                                       settings_.pending_retry_after));
    out.decision = "not_ready";
    out.reason = std::move(reason);
  };

  // The pod's names as the decision was made, for the audit line: the pod may leave the store while its token
  // is fetched, and the store frees what it drops.
  FetchContext context;
  if (!synced) {
    pending("caches_not_synced");
  } else if (!pod) {
    if (caller.pod_uid.empty()) {
      // The kernel vouched for the cgroup but no pod owns it: a process outside any pod's cgroup under
      // kubepods. Nothing to serve it.
      deps_.metrics.pod_resolution_failure("unknown_cgroup");
      out.response = imds::to_response(req, imds::caller_refused("unknown_cgroup"));
      out.reason = "unknown_cgroup";
    } else {
      // The cgroup is a pod's, but the API has not told us about the pod yet: retryable.
      deps_.metrics.pod_resolution_failure("unknown_pod");
      pending("unknown_pod");
    }
  } else if (settings_.verify_source_ip && !pod->host_network &&
             std::find(pod->pod_ips.begin(), pod->pod_ips.end(), caller.peer_ip) == pod->pod_ips.end()) {
    deps_.metrics.pod_resolution_failure("source_ip_mismatch");
    out.response = imds::to_response(req, imds::caller_refused("source_ip_mismatch"));
    out.reason = "source_ip_mismatch";
  } else {
    context = FetchContext{.pod_namespace = pod->ns,
                           .pod_name = pod->name,
                           .pod_uid = pod->uid,
                           .service_account = pod->service_account};
    Selection selection = select_identity(deps_.identities, *pod, request.selector, settings_.selection, claim_of(*pod));
    if (auto* none = std::get_if<NoIdentity>(&selection);
        none && (!none->unresolved_principals.empty() ||
                 (none->reason == NoIdentity::kNotAssignedYet && settings_.assignment_wait.count() > 0))) {
      waited = true;
      Selection after_wait = co_await await_selection(caller.pod_uid, std::move(selection), request.selector,
                                                      request.resource, context);
      selection = std::move(after_wait);
    }
    // The stores may have changed while waiting: `pod` is looked up again before use below.
    pod = deps_.pods.by_uid(caller.pod_uid);
    std::shared_ptr<TokenSource> source;
    imds::UpstreamKind upstream = imds::UpstreamKind::kImds;
    if (!pod) {
      pending("pod_deleted");
    } else if (auto* none = std::get_if<NoIdentity>(&selection)) {
      switch (none->reason) {
        case NoIdentity::kNotAssignedYet:
          pending("not_assigned_yet");
          break;
        case NoIdentity::kAmbiguous:
          out.response = imds::to_response(req, imds::multiple_identities());
          out.decision = "not_found";
          out.reason = "ambiguous";
          break;
        case NoIdentity::kServiceAccountNotAnnotated:
          deps_.metrics.federated_failure("service_account_not_annotated");
          out.response = imds::to_response(req, imds::service_account_not_annotated(none->detail));
          out.decision = "not_found";
          out.reason = "service_account_not_annotated";
          break;
        default:
          out.response = imds::to_response(req, imds::identity_not_found());
          out.decision = "not_found";
          out.reason = to_string(none->reason);
      }
    } else if (std::holds_alternative<Excepted>(selection)) {
      // As the predecessor: the node's identity, system-assigned unless the request names a client id.
      std::string client_id = request.selector.kind == SelectorKind::kClientId ? request.selector.value : "";
      source = deps_.sources.node_identity(client_id);
      out.reason = "exception";
      out.client_id = client_id;
      out.replayable = true;
    } else {
      const AzureIdentity& identity = *std::get<Chosen>(selection).identity;
      out.client_id = identity.client_id;
      if (identity.federated) out.subject = service_account_subject(pod->ns, pod->service_account);
      auto made = source_for(identity, *pod);
      if (!made) {
        log::error("token source unusable", {{"identity", identity.ns + "/" + identity.name},
                                             {"error", made.error().message()}});
        if (identity.federated) {
          deps_.metrics.federated_failure("federated_identity_invalid");
          out.response = imds::to_response(req, imds::federated_identity_invalid(made.error().message()));
          out.decision = "refused";
          out.reason = "federated_identity_invalid";
        } else {
          out.response = imds::to_response(req, imds::internal_error("token_source_invalid"));
          out.decision = "upstream_error";
          out.reason = "token_source_invalid";
        }
      } else {
        source = std::move(*made);
        if (identity.federated) {
          upstream = imds::UpstreamKind::kFederated;
        } else if (identity.type != IdentityType::kUserAssigned) {
          upstream = imds::UpstreamKind::kEntra;
        }
        // Through the node's IMDS, no secret or service-account token in the decision: see token_replay.h.
        out.replayable = upstream == imds::UpstreamKind::kImds;
        out.reason = identity.federated ? "federated" : "bound";
      }
    }

    if (source) {
      const uint64_t generation = deps_.pods.generation();
      Served served = co_await deps_.cache.get(source, request.resource, context);
      // A wait for the upstream may outlast the pod: `pod` is looked up again, and a pod gone meanwhile
      // counts in the metrics as no pod (its series went with it), while the audit keeps its names.
      if (deps_.pods.generation() != generation) pod = deps_.pods.by_uid(caller.pod_uid);
      out.source = source_name(served);
      if (auto* token = std::get_if<AccessToken>(&served.outcome)) {
        if (!served.from_cache) learn_principal(*token);
        AccessToken answer = *token;
        answer.resource = request.resource;  // echo what the pod asked, as IMDS does
        out.answered_at = deps_.clock.now();
        out.response = imds::token_response(req, answer, out.answered_at);
        out.decision = "served";
        if (out.client_id.empty()) out.client_id = token->client_id;
      } else {
        const auto& failure = std::get<UpstreamFailure>(served.outcome);
        auto error = imds::upstream_failure(failure, upstream);
        out.response = imds::to_response(req, error);
        out.decision = "upstream_error";
        out.reason = failure.detail.empty() ? error.reason : failure.detail;
        if (upstream == imds::UpstreamKind::kFederated) {
          // One fixed reason per kind of failure, for the metric and the audit line; the log line has the rest.
          out.reason = error.reason;
          deps_.metrics.federated_failure(error.reason);
          static log::Throttle throttle(20);
          if (auto suppressed = throttle.admit()) {
            log::warn("federated token failed", {{"pod", context.pod_namespace + "/" + context.pod_name},
                                                 {"subject", out.subject},
                                                 {"client_id", out.client_id}, {"reason", error.reason},
                                                 {"detail", failure.detail}, {"suppressed", *suppressed}});
          }
        }
      }
    }
  }

  auto latency = Clock::now() - start;
  unsigned status = out.response.result_int();
  const std::string_view ns = pod ? std::string_view(pod->ns) : std::string_view();
  const std::string_view name = pod ? std::string_view(pod->name) : std::string_view();
  // A pod gone meanwhile (or never known) counts in series no pod holds: its own went with forget_pod.
  const std::string_view series_uid = pod ? std::string_view(caller.pod_uid) : std::string_view();
  deps_.metrics.token_request({.ns = ns, .pod = name, .pod_uid = series_uid, .identity = out.client_id,
                               .resource = request.resource, .result = out.decision, .source = out.source},
                              latency, status);
  audit_token_decision({.ns = pod ? ns : std::string_view(context.pod_namespace),
                        .pod = pod ? name : std::string_view(context.pod_name), .pod_uid = caller.pod_uid,
                        .cgroup_id = caller.cgroup_id(), .client_id = out.client_id,
                        .resource = request.resource, .decision = out.decision, .reason = out.reason,
                        .source = out.source, .subject = out.subject, .status = status, .latency = latency},
                       deps_.decisions);
  std::shared_ptr<http::Replay> replay;
  if (out.replayable && out.decision == "served" && out.source == "cache" && status == 200 && !waited && pod &&
      inputs_.generation() == inputs_at_start) {
    replay = std::make_shared<TokenReplay>(
        inputs_, deps_.metrics,
        RepeatedDecision{.ns = pod->ns, .pod = pod->name, .pod_uid = caller.pod_uid, .client_id = out.client_id,
                         .resource = request.resource, .reason = out.reason, .cgroup_id = caller.cgroup_id(),
                         .status = status},
        inputs_at_start, out.answered_at, deps_.decisions);
  }
  co_return http::Answer{std::move(out.response), std::move(replay)};
}

asio::awaitable<http::Response> ImdsService::passthrough(const http::Request& req, const Caller& caller) {
  auto prepared = imds::prepare_passthrough(req, settings_.passthrough);
  if (auto* error = std::get_if<imds::ImdsError>(&prepared)) {
    deps_.metrics.passthrough("blocked");
    log::info("passthrough refused", {{"cgroup_id", caller.cgroup_id()}, {"path", imds::path_of(req.target())},
                                      {"reason", error->reason}});
    co_return imds::to_response(req, *error);
  }
  http::Url url = settings_.imds_base.with_target(std::string(req.target()));
  http::Request forward = std::move(std::get<http::Request>(prepared));
  auto upstream = co_await deps_.passthrough_client.send(url, std::move(forward));
  if (!upstream) {
    deps_.metrics.passthrough("error");
    log::warn("passthrough failed", {{"path", imds::path_of(req.target())}, {"error", upstream.error().message()}});
    co_return imds::to_response(req, imds::upstream_failure(UpstreamFailure{.detail = upstream.error().message()},
                                                            imds::UpstreamKind::kImds));
  }
  deps_.metrics.passthrough("forwarded");
  co_return imds::relay_response(*upstream, req);
}

}  // namespace podid::agent
