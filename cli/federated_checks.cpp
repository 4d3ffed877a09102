// SPDX-License-Identifier: Apache-2.0
#include "cli/federated_checks.h"

#include <algorithm>
#include <set>

#include "agent/identity/selection.h"
#include "cli/kubectl_commands.h"
#include "controller/arm/resource_id.h"
#include "podid/ascii.h"

namespace podid::cli {
namespace {

namespace arm = controller::arm;
using nlohmann::json;

constexpr std::string_view kIssuerPlaceholder = "\"$OIDC_ISSUER\"";

struct Credential {
  std::string name, issuer, subject;
  std::vector<std::string> audiences;
};

std::vector<Credential> credentials_of(const json& body) {
  std::vector<Credential> out;
  auto value = body.find("value");
  if (value == body.end() || !value->is_array()) return out;
  auto text = [](const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (const json& c : *value) {
    if (!c.is_object()) continue;
    Credential cred{.name = text(c, "name"), .issuer = {}, .subject = {}, .audiences = {}};
    if (auto p = c.find("properties"); p != c.end() && p->is_object()) {
      cred.issuer = text(*p, "issuer");
      cred.subject = text(*p, "subject");
      if (auto a = p->find("audiences"); a != p->end() && a->is_array()) {
        for (const json& aud : *a) {
          if (aud.is_string()) cred.audiences.push_back(aud.get<std::string>());
        }
      }
    }
    out.push_back(std::move(cred));
  }
  return out;
}

bool has_audience(const Credential& c) {
  return std::find(c.audiences.begin(), c.audiences.end(), kTokenExchangeAudience) != c.audiences.end();
}

std::string without_trailing_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

// "az identity federated-credential create|update --name N --identity-name I --resource-group G
// --subscription S --issuer ISSUER --subject SUBJECT --audiences api://AzureADTokenExchange"
std::string az_federated_credential(std::string_view verb, std::string_view name, const std::string& identity_id,
                                    const std::string& issuer, std::string_view subject) {
  auto id = arm::parse_identity_id(identity_id);
  if (!id) return "";
  return "az identity federated-credential " + std::string(verb) + " --name " + shell_quote(name) +
         " --identity-name " + shell_quote(id->name) + " --resource-group " + shell_quote(id->resource_group) +
         " --subscription " + shell_quote(id->subscription) + " --issuer " +
         (issuer.empty() ? std::string(kIssuerPlaceholder) : shell_quote(issuer)) + " --subject " +
         shell_quote(subject) + " --audiences " + std::string(kTokenExchangeAudience);
}

// The name `az` would be given for a new credential: "<namespace>-<service account>" (letters, digits, '-').
std::string credential_name(std::string_view subject) {
  std::string_view rest = subject.substr(std::string_view("system:serviceaccount:").size());
  std::string out(rest);
  std::replace(out.begin(), out.end(), ':', '-');
  return out;
}

std::string names_of(const std::vector<const Credential*>& creds) {
  std::string out;
  for (const auto* c : creds) out += (out.empty() ? "" : ", ") + c->name + " (subject " + c->subject + ")";
  return out;
}

void judge(const FederatedCheck& check, const std::vector<Credential>& creds, const std::string& issuer,
           std::vector<Finding>& out) {
  auto issuer_ok = [&](const Credential& c) { return issuer.empty() || c.issuer == issuer; };
  std::set<std::string> wanted(check.subjects.begin(), check.subjects.end());
  size_t to_create = 0;
  for (const auto& subject : check.subjects) {
    std::vector<const Credential*> same_subject;
    for (const auto& c : creds) {
      if (c.subject == subject) same_subject.push_back(&c);
    }
    if (std::any_of(same_subject.begin(), same_subject.end(),
                    [&](const Credential* c) { return issuer_ok(*c) && has_audience(*c); })) {
      continue;
    }
    const std::string cred_name = credential_name(subject);
    if (!same_subject.empty()) {
      auto right_issuer =
          std::find_if(same_subject.begin(), same_subject.end(), [&](const Credential* c) { return issuer_ok(*c); });
      if (right_issuer == same_subject.end()) {
        const Credential& c = *same_subject.front();
        const bool slash = without_trailing_slash(c.issuer) == without_trailing_slash(issuer);
        out.push_back(
            {Severity::kError, "FederatedCredentialWrongIssuer", check.object,
             "the federated credential " + c.name + " for " + subject + " names issuer " + c.issuer +
                 ", not the cluster's " + issuer +
                 (slash ? " (they differ only by a trailing slash, and Entra ID compares them exactly)" : "") +
                 ": Entra ID refuses the pod's token (AADSTS700211)",
             az_federated_credential("update", c.name, check.resource_id, issuer, subject)});
      } else {
        const Credential& c = **right_issuer;
        out.push_back({Severity::kError, "FederatedCredentialWrongAudience", check.object,
                       "the federated credential " + c.name + " for " + subject + " does not accept audience " +
                           std::string(kTokenExchangeAudience) +
                           ", the one the agent's service-account tokens carry: Entra ID refuses them (AADSTS700212)",
                       az_federated_credential("update", c.name, check.resource_id, issuer, subject)});
      }
      continue;
    }
    ++to_create;
    // Credentials with the right issuer that no pod's service account uses: likely the one meant, misspelt.
    std::vector<const Credential*> unused;
    for (const auto& c : creds) {
      if (issuer_ok(c) && !wanted.contains(c.subject)) unused.push_back(&c);
    }
    const std::string fix = az_federated_credential("create", cred_name, check.resource_id, issuer, subject);
    if (!unused.empty()) {
      out.push_back({Severity::kError, "FederatedCredentialWrongSubject", check.object,
                     "no federated credential has subject " + subject + " (the pods' service account); " +
                         names_of(unused) + " has the cluster's issuer but a subject no pod uses here: " +
                         "Entra ID refuses the pod's token (AADSTS700213)",
                     fix});
    } else {
      out.push_back({Severity::kError, "FederatedCredentialMissing", check.object,
                     "no federated credential for " + subject +
                         (creds.empty() ? std::string(": the identity has none")
                                        : " (the identity's " + std::to_string(creds.size()) +
                                              " name other issuers or subjects)") +
                         ": Entra ID refuses the pod's token",
                     fix});
    }
  }
  if (creds.size() + to_create > kMaxFederatedCredentials) {
    std::string fix;
    for (const auto& c : creds) {
      if (wanted.contains(c.subject)) continue;
      auto id = arm::parse_identity_id(check.resource_id);
      if (!id) break;
      fix += (fix.empty() ? "" : "\n") + std::string("az identity federated-credential delete --name ") +
             shell_quote(c.name) + " --identity-name " + shell_quote(id->name) + " --resource-group " +
             shell_quote(id->resource_group) + " --subscription " + shell_quote(id->subscription) + " --yes";
    }
    out.push_back({Severity::kError, "FederatedCredentialLimit", check.object,
                   "the identity has " + std::to_string(creds.size()) + " federated credentials and needs " +
                       std::to_string(to_create) + " more, over Azure's limit of " +
                       std::to_string(kMaxFederatedCredentials) +
                       " per identity: remove those no pod uses, or give some service accounts another identity",
                   fix});
  }
}

}  // namespace

std::string federated_credentials_path(std::string_view identity_id) {
  return std::string(identity_id) + "/federatedIdentityCredentials";
}

FederatedPlan plan_federated_checks(const ClusterView& view, const DoctorPolicy& policy) {
  FederatedPlan plan;
  std::map<std::string, size_t> index;  // canonical resource id -> plan.checks
  std::map<std::string, std::set<std::string>> subjects;
  auto add = [&](const crd::AzureIdentity& identity, const std::string& subject) {
    const std::string key = arm::canonical_key(identity.resource_id);
    if (index.emplace(key, plan.checks.size()).second) {
      plan.checks.push_back({"AzureIdentity " + identity.ns + "/" + identity.name, identity.resource_id, {}});
    }
    subjects[key].insert(subject);
  };
  auto usable = [](const crd::AzureIdentity& i) {
    return i.type == crd::IdentityType::kUserAssigned && crd::is_user_assigned_resource_id(i.resource_id);
  };
  std::map<std::pair<std::string, std::string>, std::set<std::string>> unresolved;  // (client id, account) -> subjects
  for (const auto& pod : view.pods) {
    if (!is_live(pod)) continue;
    const std::string account = pod.service_account.empty() ? "default" : pod.service_account;
    const std::string subject = crd::service_account_subject(pod.ns, account);
    for (const auto& c : agent::bound_identities(*view.store, pod, policy.selection)) {
      if (c.identity->federated && usable(*c.identity)) add(*c.identity, subject);
    }
    if (!crd::wants_workload_identity(pod)) continue;
    auto sa = std::find_if(view.workload_accounts.begin(), view.workload_accounts.end(),
                           [&](const auto& a) { return a.ns == pod.ns && a.name == account; });
    if (sa == view.workload_accounts.end()) continue;  // the agent refuses it: service_account_not_annotated
    auto identity = std::find_if(view.identities.begin(), view.identities.end(), [&](const auto& i) {
      return usable(i) && ascii::iequals(i.client_id, sa->client_id);
    });
    if (identity != view.identities.end()) {
      add(*identity, subject);
    } else {
      unresolved[{sa->client_id, pod.ns + "/" + account}].insert(subject);
    }
  }
  for (auto& check : plan.checks) {
    const auto& s = subjects[arm::canonical_key(check.resource_id)];
    check.subjects.assign(s.begin(), s.end());
  }
  for (const auto& [key, _] : unresolved) {
    const auto& [client_id, account] = key;
    plan.unresolved.push_back(
        {Severity::kWarning, "FederatedIdentityUnknown", "ServiceAccount " + account,
         "its azure.workload.identity/client-id " + client_id +
             " is the client id of no AzureIdentity, and ARM cannot be asked for an identity by client id alone: "
             "its federated credentials were not checked",
         "az identity list --query \"[?clientId=='" + client_id + "'].{name:name, group:resourceGroup}\" -o table"});
  }
  return plan;
}

std::vector<Finding> federated_findings(const FederatedPlan& plan, const std::map<std::string, ArmAnswer>& answers,
                                        const std::string& issuer, const std::string& issuer_unknown_because,
                                        const std::string& principal_id) {
  std::vector<Finding> out = plan.unresolved;
  if (issuer.empty() && !plan.checks.empty()) {
    out.push_back({Severity::kWarning, "OidcIssuerUnknown", "Cluster",
                   "the cluster's OIDC issuer is unknown (" + issuer_unknown_because +
                       "), so federated credentials' issuers were not compared with it",
                   "podid doctor --oidc-issuer \"$(az aks show --resource-group RG --name CLUSTER --query "
                   "oidcIssuerProfile.issuerUrl -o tsv)\""});
  }
  for (const auto& check : plan.checks) {
    auto it = answers.find(arm::canonical_key(check.resource_id));
    if (it == answers.end()) continue;
    const ArmAnswer& a = it->second;
    if (a.status == 404) continue;  // the identity itself is missing: IdentityNotFoundInAzure says so
    if (a.status == 403) {
      out.push_back({Severity::kError, "ArmReadDenied", check.object,
                     "the controller's principal may not read the federated credentials of " + check.resource_id +
                         "; Managed Identity Operator (or Reader) on the identity grants it",
                     az_role_assignment(principal_id, "Managed Identity Operator", check.resource_id)});
      continue;
    }
    if (a.status != 200) {
      out.push_back({Severity::kError, "ArmCheckFailed", check.object,
                     "could not list the federated credentials of " + check.resource_id + ": " +
                         (a.status == 0 ? a.failure : "HTTP " + std::to_string(a.status) + " " + a.error_code),
                     ""});
      continue;
    }
    judge(check, credentials_of(a.body), issuer, out);
  }
  return out;
}

}  // namespace podid::cli
