// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/federated_errors.h"

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace podid::azure {
namespace {

namespace reason = federated_reason;

// The first line of Entra's description (it continues with Trace ID, Correlation ID and Timestamp lines).
std::string first_line(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return {};
  auto it = doc.find("error_description");
  if (it == doc.end() || !it->is_string()) return {};
  std::string text = it->get<std::string>();
  if (auto end = text.find_first_of("\r\n"); end != std::string::npos) text.resize(end);
  return text;
}

// `/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`:
// (resource group, name), or empty strings.
std::pair<std::string, std::string> group_and_name(std::string_view id) {
  std::array<std::string_view, 8> segs{};
  size_t n = 0;
  while (!id.empty() && n < segs.size()) {
    if (id.front() == '/') id.remove_prefix(1);
    auto slash = id.find('/');
    segs[n++] = id.substr(0, slash);
    id = slash == std::string_view::npos ? std::string_view() : id.substr(slash);
  }
  if (n != segs.size() || !id.empty()) return {};
  return {std::string(segs[3]), std::string(segs[7])};
}

std::string single_quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string where_from(const FederatedFacts& facts) {
  return facts.origin.empty() ? std::string() : " (from " + facts.origin + ")";
}

}  // namespace

std::optional<long> aadsts_code(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  if (auto codes = doc.find("error_codes"); codes != doc.end() && codes->is_array() && !codes->empty() &&
                                           codes->front().is_number_integer()) {
    return codes->front().get<long>();
  }
  auto text = first_line(body);
  auto at = text.find("AADSTS");
  if (at == std::string::npos) return std::nullopt;
  long code = 0;
  size_t digits = 0;
  for (size_t i = at + 6; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 9; ++i) {
    code = code * 10 + (text[i] - '0');
    ++digits;
  }
  return digits ? std::optional<long>(code) : std::nullopt;
}

std::string federated_credential_name(std::string_view subject) {
  // "system:serviceaccount:team-a:web" -> "podid-team-a-web": the part after the prefix, other characters as '-'.
  constexpr std::string_view kPrefix = "system:serviceaccount:";
  if (subject.starts_with(kPrefix)) subject.remove_prefix(kPrefix.size());
  std::string name = "podid-";
  for (char c : subject) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    name.push_back(ok ? c : '-');
  }
  if (name.size() > 120) name.resize(120);
  return name;
}

std::string federated_credential_command(const FederatedFacts& facts) {
  std::string issuer = facts.issuer.empty() ? "<the cluster's OIDC issuer URL>" : facts.issuer;
  std::string audience = facts.audience.empty() ? std::string(kTokenExchangeAudience) : facts.audience;
  std::string name = federated_credential_name(facts.subject);
  if (facts.app_registration) {
    return "az ad app federated-credential create --id " + facts.client_id + " --parameters '{\"name\":\"" + name +
           "\",\"issuer\":\"" + issuer + "\",\"subject\":\"" + facts.subject + "\",\"audiences\":[\"" + audience +
           "\"]}'";
  }
  auto [group, identity] = group_and_name(facts.identity_resource_id);
  if (identity.empty()) {
    // Only the client id is known (a service account's annotation): the identity's name and group are not.
    identity = "<identity-name>";
    group = "<resource-group>";
  }
  return "az identity federated-credential create --name " + name + " --identity-name " + identity +
         " --resource-group " + group + " --issuer " + single_quoted(issuer) + " --subject " + single_quoted(facts.subject) +
         " --audiences " + single_quoted(audience);
}

UpstreamFailure explain_exchange_failure(UpstreamFailure f, const FederatedFacts& facts) {
  if (f.status == 429 || f.status >= 500 || f.status == 0) return f;  // transient: the status says it all
  auto code = aadsts_code(f.body).value_or(0);
  std::string entra = first_line(f.body);
  std::string said = entra.empty() ? "Entra ID answered HTTP " + std::to_string(f.status) : "Entra ID: " + entra;
  switch (code) {
    case 70021:
    case 700211:
    case 700212:
    case 700213:
      f.reason = reason::kNoFederatedCredential;
      f.explanation = "No federated identity credential of client id " + facts.client_id + where_from(facts) +
                      " matches issuer " + single_quoted(facts.issuer) + ", subject " + single_quoted(facts.subject) +
                      " and audience " + single_quoted(facts.audience) +
                      " (compared exactly, case included). Create it: " + federated_credential_command(facts) +
                      " (it can take a minute to apply). " + said;
      return f;
    case 700024:
    case 700027:
    case 50027:
      f.reason = reason::kAssertionRejected;
      f.explanation = "Entra ID rejected the service-account token of " + facts.subject + " issued by " +
                      single_quoted(facts.issuer) + ": is the node's clock right, and does the issuer's JWKS still hold "
                      "the key that signed it? " + said;
      return f;
    case 50166:
      f.reason = reason::kIssuerUnreachable;
      f.explanation = "Entra ID could not fetch the OpenID metadata of issuer " + single_quoted(facts.issuer) +
                      " (<issuer>/.well-known/openid-configuration and its jwks_uri must be reachable from the "
                      "internet: is the cluster's OIDC issuer enabled?). " + said;
      return f;
    case 700016:
      f.reason = reason::kUnknownClientId;
      f.explanation = "Entra ID knows no application or managed identity with client id " + facts.client_id +
                      where_from(facts) + " in tenant " + facts.tenant_id + ". " + said;
      return f;
    case 90002:
      f.reason = reason::kUnknownTenant;
      f.explanation = "Entra ID knows no tenant " + facts.tenant_id + where_from(facts) + ". " + said;
      return f;
    default:
      f.reason = reason::kExchangeRefused;
      f.explanation = "Entra ID refused to exchange the service-account token of " + facts.subject +
                      " for client id " + facts.client_id + where_from(facts) + ". " + said;
      return f;
  }
}

}  // namespace podid::azure
