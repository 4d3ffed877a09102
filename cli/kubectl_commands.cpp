// SPDX-License-Identifier: Apache-2.0
#include "cli/kubectl_commands.h"

#include <cctype>

#include "podid/ascii.h"

namespace podid::cli {

std::string shell_quote(std::string_view text) {
  bool safe = !text.empty();
  for (char c : text) {
    safe = safe && (std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./:=@,+").find(c) !=
                                                                        std::string_view::npos);
  }
  if (safe) return std::string(text);
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string kubectl_edit(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string out = "kubectl edit " + ascii::lowered(kind) + " " + shell_quote(name);
  if (!ns.empty()) out += " -n " + shell_quote(ns);
  return out;
}

std::string kubectl_merge_patch(std::string_view resource, std::string_view ns, std::string_view name,
                                const nlohmann::json& patch) {
  return "kubectl patch " + std::string(resource) + " " + shell_quote(name) + " -n " + shell_quote(ns) +
         " --type merge -p " + shell_quote(patch.dump());
}

namespace {

std::string apply(const std::string& body) { return "kubectl apply -f - <<'EOF'\n" + body + "EOF"; }

// A YAML scalar as JSON (a JSON string is valid YAML), so no value can break the manifest.
std::string scalar(std::string_view v) { return nlohmann::json(std::string(v)).dump(); }

}  // namespace

std::string binding_manifest(std::string_view ns, std::string_view name, std::string_view identity,
                             std::string_view selector) {
  return apply("apiVersion: aadpodidentity.k8s.io/v1\nkind: AzureIdentityBinding\nmetadata:\n  name: " +
               scalar(name) + "\n  namespace: " + scalar(ns) + "\nspec:\n  azureIdentity: " + scalar(identity) +
               "\n  selector: " + scalar(selector) + "\n");
}

std::string identity_manifest(std::string_view ns, std::string_view name, std::string_view resource_id,
                              std::string_view client_id) {
  return apply("apiVersion: aadpodidentity.k8s.io/v1\nkind: AzureIdentity\nmetadata:\n  name: " + scalar(name) +
               "\n  namespace: " + scalar(ns) + "\nspec:\n  type: 0\n  resourceID: " + scalar(resource_id) +
               "\n  clientID: " + scalar(client_id) + "\n");
}

std::string az_role_assignment(std::string_view principal_id, std::string_view role, std::string_view scope) {
  return "az role assignment create --assignee-object-id " +
         shell_quote(principal_id.empty() ? "<controller principal id>" : principal_id) +
         " --assignee-principal-type ServicePrincipal --role " + shell_quote(role) + " --scope " + shell_quote(scope);
}

std::string commands_in(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    // The controller writes "<what failed> Fix: <command>", and may append " (and on N more)".
    if (auto fix = line.rfind("Fix: "); fix != std::string_view::npos) line.remove_prefix(fix + 5);
    if (auto more = line.find(" (and on "); more != std::string_view::npos) line = line.substr(0, more);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.starts_with("az ") || line.starts_with("kubectl ")) out += (out.empty() ? "" : "\n") + std::string(line);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace podid::cli
