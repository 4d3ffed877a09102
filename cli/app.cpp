// SPDX-License-Identifier: Apache-2.0
#include "cli/app.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>

#include "cli/agent_report.h"
#include "cli/arm_checks.h"
#include "cli/arm_reader.h"
#include "cli/cluster_checks.h"
#include "cli/cluster_reader.h"
#include "cli/explain.h"
#include "cli/federated_checks.h"
#include "cli/render.h"
#include "controller/cloud/arm_credential.h"
#include "controller/cloud/cloud_config.h"
#include "podid/azure/jwt_claims.h"
#include "podid/k8s/cluster_config.h"
#include "podid/log.h"
#include "podid/read_file.h"

namespace podid::cli {
namespace asio = boost::asio;
namespace cloud = controller::cloud;

namespace {

// --kubeconfig, then $KUBECONFIG (its first file), then ~/.kube/config, then the in-cluster service account.
Result<k8s::ClusterConfig> cluster_config(const CliOptions& o) {
  std::string path = o.kubeconfig;
  if (path.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
      path = std::string(env).substr(0, std::string(env).find(':'));
    } else if (const char* home = std::getenv("HOME"); home != nullptr) {
      std::error_code ec;
      if (std::filesystem::exists(std::string(home) + "/.kube/config", ec)) path = std::string(home) + "/.kube/config";
    }
  }
  if (path.empty()) return k8s::in_cluster_config();
  return k8s::kubeconfig_config(path, o.context);
}

// What talking to ARM as the controller needs, built from its azure.json; kept alive for the whole run.
struct ArmSession {
  std::unique_ptr<http::Client> client;
  std::optional<cloud::ArmCredential> credential;
  std::unique_ptr<ArmReader> reader;
};

Result<ArmSession> arm_session(const CliOptions& o, asio::io_context& io) {
  auto env = cloud::process_environment();
  auto config = cloud::load_cloud_config(o.cloud_config, env);
  if (!config) return config.error().wrap("--cloud-config");
  auto environment = cloud::resolve_environment(*config, env);
  if (!environment) return environment.error();
  auto auth = cloud::resolve_auth(*config);
  if (!auth) return auth.error();
  http::ClientOptions options{.timeout = o.timeout, .user_agent = "podid-doctor/" PODID_VERSION};
  if (!o.azure_ca_file.empty()) {
    auto ca = read_file(o.azure_ca_file);
    if (!ca) return ca.error().wrap("--azure-ca-file");
    options.tls.ca_pem = *ca;
  }
  ArmSession s;
  s.client = std::make_unique<http::Client>(io.get_executor(), options);
  cloud::ArmCredentialOptions credential_options;
  credential_options.imds_endpoint = o.imds_endpoint;
  auto credential = cloud::ArmCredential::create(*s.client, *auth, *environment, credential_options);
  if (!credential) return credential.error();
  s.credential.emplace(std::move(credential.value()));
  auto endpoint = http::Url::parse(environment->resource_manager_endpoint);
  if (!endpoint) return endpoint.error().wrap("resource manager endpoint");
  s.reader = std::make_unique<ArmReader>(*s.client, *endpoint, s.credential->bearer_source());
  return s;
}

// Colour for a person at a terminal only (https://no-color.org).
bool colour_for(const std::ostream& out, const CliOptions& o) {
  return !o.json && &out == &std::cout && isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

struct Outcome {
  int status = 1;
  std::string text;  // for stdout
  std::string error;  // for stderr, "" when the run went through
};

// The cluster's OIDC issuer: --oidc-issuer, else the API server's discovery document (the issuer its
// service-account tokens carry). `why_not` says why it is unknown.
asio::awaitable<std::string> oidc_issuer(const CliOptions& o, k8s::ApiClient& api, std::string& why_not) {
  if (!o.oidc_issuer.empty()) co_return o.oidc_issuer;
  auto response = co_await api.get("/.well-known/openid-configuration");
  if (!response) {
    why_not = "the API server's /.well-known/openid-configuration: " + response.error().message();
  } else if (!response->ok()) {
    why_not = "the API server's /.well-known/openid-configuration: HTTP " + std::to_string(response->status);
  } else if (auto it = response->body.find("issuer"); it != response->body.end() && it->is_string()) {
    co_return it->get<std::string>();
  } else {
    why_not = "the API server's /.well-known/openid-configuration names no issuer";
  }
  log::warn("cluster OIDC issuer unknown", {{"error", why_not}});
  why_not += "; give --oidc-issuer";
  co_return std::string();
}

asio::awaitable<Outcome> doctor(const CliOptions& o, const ClusterView& view, const DoctorPolicy& policy,
                                k8s::ApiClient& api, asio::io_context& io, bool colour) {
  Outcome result;
  std::vector<Finding> findings = cluster_findings(view, policy);
  RunSummary summary{view.identities.size(), view.bindings.size(), view.pods.size(), view.nodes.size()};

  if (o.cloud_config.empty()) {
    summary.arm_skipped_because = "no --cloud-config (the controller's azure.json)";
  } else if (auto session = arm_session(o, io); !session) {
    result.error = session.error().message();
    co_return result;
  } else {
    auto token = co_await session->credential->token();
    if (!token) {
      summary.arm_skipped_because = "no ARM token";
      findings.push_back({Severity::kError, "ArmCheckFailed", "Credential " + session->credential->describe(),
                          "could not get an ARM token with the controller's credentials: " + token.error().message(),
                          ""});
    } else {
      ArmPlan plan = plan_arm_checks(view, policy);
      const FederatedPlan federated = plan_federated_checks(view, policy);
      for (const auto& check : federated.checks) plan.federated_ids.push_back(check.resource_id);
      ArmFacts facts = co_await read_arm_facts(*session->reader, plan, o.arm_concurrency);
      facts.principal_id = azure::unverified_jwt_claim(*token, "oid").value_or("");
      for (auto& f : arm_findings(plan, facts)) findings.push_back(std::move(f));
      std::string issuer_unknown_because;
      std::string issuer;
      if (!federated.checks.empty()) {
        std::string learned = co_await oidc_issuer(o, api, issuer_unknown_because);
        issuer = std::move(learned);
      }
      for (auto& f : federated_findings(federated, facts.federated, issuer, issuer_unknown_because,
                                        facts.principal_id)) {
        findings.push_back(std::move(f));
      }
      summary.arm_checked = true;
      summary.arm_calls = session->reader->calls();
    }
  }
  sort_findings(findings);
  result.status = exit_status(findings);
  result.text = o.json ? render_findings_json(findings, summary)
                       : render_findings_table(findings, summary, colour);
  co_return result;
}

asio::awaitable<Outcome> explain(const CliOptions& o, const ClusterView& view, const DoctorPolicy& policy,
                                 asio::io_context& io, bool colour) {
  Outcome result;
  Explanation e = explain_pod(view, o.pod_namespace, o.pod_name, policy);
  if (!e.found) {
    result.error = "pod " + o.pod_namespace + "/" + o.pod_name + " not found";
    co_return result;
  }
  if (e.outcome == "identity" && !e.compute_id.empty()) {
    if (o.cloud_config.empty()) {
      e.compute_note = "not checked: no --cloud-config";
    } else if (auto session = arm_session(o, io); !session) {
      e.compute_note = "not checked: " + session.error().message();
    } else {
      ArmAnswer compute = co_await session->reader->get(e.compute_id, kComputeApiVersion, kGetCompute);
      record_compute(e, compute);
    }
  }
  if (e.pod.node.empty()) {
    e.agent.note = "the pod is not scheduled on a node yet";
  } else if (o.agent_url.empty()) {
    e.agent = agent_unreachable(view, o.podid_namespace, e.pod, "not asked (no --agent-url)");
  } else {
    http::Client client(io.get_executor(), {.timeout = o.timeout, .user_agent = "podid-doctor/" PODID_VERSION});
    AgentReport report = co_await fetch_agent_report(client, o.agent_url, e.pod.uid);
    if (!report.fetched) {
      report = agent_unreachable(view, o.podid_namespace, e.pod, report.note);
    } else if (report.node != e.pod.node) {
      // A pod's decisions are only on its own node's agent: another node's would show none.
      report = agent_unreachable(view, o.podid_namespace, e.pod,
                                 "--agent-url reached the agent of node " + report.node + ", not of the pod's node");
    }
    e.agent = std::move(report);
  }
  result.status = exit_status(e);
  result.text = o.json ? render_explanation_json(e) : render_explanation_text(e, colour);
  co_return result;
}

// Both commands start from the same read of the cluster.
asio::awaitable<Outcome> run_command(const CliOptions& o, k8s::ApiClient& api, asio::io_context& io, bool colour) {
  auto listed = co_await read_cluster(api);
  if (!listed) {
    Outcome failed;
    failed.error = listed.error().message();
    co_return failed;
  }
  const DoctorPolicy policy{o.selection, o.podid_namespace};
  const ClusterView view = build_view(*listed, o.podid_namespace);
  if (o.command == Command::kExplain) {
    Outcome explained = co_await explain(o, view, policy, io, colour);
    co_return explained;
  }
  Outcome diagnosed = co_await doctor(o, view, policy, api, io, colour);
  co_return diagnosed;
}

}  // namespace

int run(const CliOptions& o, std::ostream& out, std::ostream& err) {
  log::set_min_level(log::parse_level(o.log_level).value_or(log::Level::kError));
  auto config = cluster_config(o);
  if (!config) {
    err << "podid: " << config.error().message() << "\n";
    return 1;
  }
  const bool colour = colour_for(out, o);
  asio::io_context io;
  k8s::ApiClient api(io.get_executor(), *config, "podid-doctor/" PODID_VERSION);
  Outcome outcome;
  asio::co_spawn(
      io,
      run_command(o, api, io, colour),
      [&](std::exception_ptr e, Outcome result) {
        if (e) {
          outcome.error = "internal error";
          return;
        }
        outcome = std::move(result);
      });
  io.run();
  if (!outcome.error.empty()) {
    err << "podid: " << outcome.error << "\n";
    return 1;
  }
  out << outcome.text;
  return outcome.status;
}

}  // namespace podid::cli
