// SPDX-License-Identifier: Apache-2.0
#include "controller/app.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <string_view>

#include "controller/arm/http_arm_client.h"
#include "controller/cloud/arm_credential.h"
#include "controller/cloud/cloud_config.h"
#include "controller/cluster/cluster_cache.h"
#include "controller/controller.h"
#include "controller/kube/metered_api.h"
#include "controller/leader/lease_elector.h"
#include "controller/metrics.h"
#include "podid/ascii.h"
#include "podid/http/ops_routes.h"
#include "podid/http/server.h"
#include "podid/k8s/api_client.h"
#include "podid/k8s/cluster_config.h"
#include "podid/log.h"
#include "podid/read_file.h"
#include "podid/spawn.h"
#include "podid/startup.h"

namespace podid::controller {
namespace asio = boost::asio;
namespace {

constexpr std::string_view kProgram = "podid-controller";

int refuse(const std::string& why) { return refuse_start(kProgram, why); }

}  // namespace

int run_controller(const ControllerConfig& config) {
  log::set_min_level(log::parse_level(config.log_level).value_or(log::Level::kInfo));
  asio::io_context io;

  // Kubernetes.
  auto cluster = config.kubeconfig.empty() ? k8s::in_cluster_config() : k8s::kubeconfig_config(config.kubeconfig);
  if (!cluster) return refuse(cluster.error().message());
  k8s::ApiClient api(io.get_executor(), *cluster, "podid-controller/" PODID_VERSION);

  // Azure: cloud config, environment, credential, ARM client.
  auto env = cloud::process_environment();
  auto cloud_config = cloud::load_cloud_config(config.cloud_config, env);
  if (!cloud_config) return refuse(cloud_config.error().message());
  auto environment = cloud::resolve_environment(*cloud_config, env);
  if (!environment) return refuse(environment.error().message());
  auto auth = cloud::resolve_auth(*cloud_config);
  if (!auth) return refuse(auth.error().message());
  http::ClientOptions azure_http{.timeout = config.arm_timeout, .user_agent = "podid-controller/" PODID_VERSION};
  if (!config.azure_ca_file.empty()) {
    auto ca = read_file(config.azure_ca_file);
    if (!ca) return refuse("--azure-ca-file: " + ca.error().message());
    azure_http.tls.ca_pem = *ca;
  }
  http::Client azure_client(io.get_executor(), azure_http);
  cloud::ArmCredentialOptions credential_options;
  credential_options.imds_endpoint = config.imds_endpoint;
  auto credential = cloud::ArmCredential::create(azure_client, *auth, *environment, credential_options);
  if (!credential) return refuse(credential.error().message());
  auto arm_endpoint = http::Url::parse(environment->resource_manager_endpoint);
  if (!arm_endpoint) return refuse("resource manager endpoint: " + arm_endpoint.error().message());

  ControllerMetrics metrics;
  arm::HttpArmClient arm(azure_client,
                         {.endpoint = *arm_endpoint, .poll_interval = config.arm_poll_interval,
                          .bearer = credential->bearer_source()},
                         metrics.registry());

  // What rounds write, under the client-side write limit; the Lease apart from it (its renewals never wait
  // behind AzureAssignedIdentities).
  SystemSteadyClock clock;
  kube::WriteLimiter limiter(config.kube_api_qps, config.kube_api_burst, clock, metrics.registry());
  kube::MeteredApi metered(api, metrics.registry(), &limiter);
  kube::MeteredApi lease_api(api, metrics.registry());
  kube::ConfigMapLedger ledger(metered, config.ns);
  kube::AssignedIdentityWriter assigned(metered);
  kube::EventRecorderOptions event_options;
  event_options.instance = config.leader_election_identity;
  kube::EventRecorder events(metered, metrics.registry(), event_options);
  kube::ConditionWriter conditions(metered);

  // The cloud config's own identity (the kubelet's / the cluster's) is never removed, whatever the flags say.
  std::vector<std::string> immutable = config.immutable_client_ids;
  for (const auto& id : cloud::immutable_client_ids(*cloud_config)) immutable.push_back(ascii::lowered(id));

  std::optional<Controller> controller;
  ClusterCache cache(io.get_executor(), api, config.force_namespaced, [&controller](Reach reach) {
    if (controller) controller->cache_changed(std::move(reach));
  });
  controller.emplace(io, config, cache,
                     RoundDeps{.arm = arm,
                               .ledger = ledger,
                               .assigned = assigned,
                               .events = events,
                               .conditions = conditions,
                               .clock = clock,
                               .immutable_client_ids = immutable,
                               .sync = {},
                               .still_leading = [&controller] { return controller && controller->leading(); },
                               .observed = [&cache](const nlohmann::json& written) { cache.observe_written(written); }},
                     metrics);
  metrics.track_caches([&cache] { return cache.stats(); });

  // Leadership. Losing it (the API server unreachable past the renew deadline, or another replica holding the
  // Lease) stops the rounds; a round in flight stops before its Kubernetes writes. The process stays, with warm
  // caches, and leads again when it wins the Lease: exiting would put it in CrashLoopBackOff for minutes after
  // every API server outage.
  std::optional<leader::LeaseElector> elector;
  if (config.leader_elect) {
    leader::LeaseElectorOptions lease{.ns = config.ns, .name = config.leader_election_name,
                                      .identity = config.leader_election_identity,
                                      .lease_duration = config.leader_election_duration};
    elector.emplace(io.get_executor(), lease_api, lease,
                    leader::LeaderCallbacks{.on_started_leading = [&] { controller->start_leading(); },
                                            .on_stopped_leading = [&] { controller->stop_leading(); }},
                    metrics.registry());
  }

  // Ops endpoint.
  http::Server server(io);
  http::OpsState ops{
      .live = [] { return true; },
      .ready = [&] { return controller->not_ready_reason(); },
      .metrics = [&metrics] { return metrics.serialize(); },
  };
  boost::system::error_code ec;
  auto listen_address = asio::ip::make_address(config.listen_address, ec);
  if (ec) return refuse("--listen: " + ec.message());
  auto ops_ep = server.listen(http::tcp::endpoint(listen_address, config.listen_port),
                              [&ops](http::tcp::socket&) -> http::Handler {
                                return http::sync_handler([&ops](const http::Request& req) { return http::handle_ops(req, ops); });
                              },
                              "ops");
  if (!ops_ep) return refuse(ops_ep.error().message());

  cache.start();
  if (elector) {
    elector->start();
  } else {
    controller->start_leading();
  }
  log::info("running", {{"namespace", config.ns}, {"ops", ops_ep->address().to_string() + ":" + std::to_string(ops_ep->port())},
                        {"arm", environment->resource_manager_endpoint}, {"credential", credential->describe()},
                        {"leader_election", config.leader_elect}, {"immutable_client_ids", immutable}});

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code sec, int sig) {
    if (sec) return;
    log::info("stopping", {{"signal", sig}});
    controller->stop_leading();
    server.stop();
    cache.stop();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          if (elector) co_await elector->stop();  // releases the Lease: the other replica takes over at once
        },
        [&io](std::exception_ptr e) {
          // Whatever releasing the Lease did, the process ends (the Lease then expires on its own).
          if (e) log::error("releasing the lease failed", {{"error", describe_exception(e)}});
          io.stop();
        });
  });
  io.run();
  return 0;
}

}  // namespace podid::controller
