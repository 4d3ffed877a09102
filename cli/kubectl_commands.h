// SPDX-License-Identifier: Apache-2.0
//
// The fix commands doctor prints: kubectl and az command lines built from the objects at fault, quoted for a
// POSIX shell, so a finding's fix can be pasted as it is. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace podid::cli {

// `text` as one shell word: single-quoted unless it is made only of safe characters.
std::string shell_quote(std::string_view text);

// "kubectl edit azureidentity NAME -n NS" for a kind as the API names it ("AzureIdentity", "Pod", ...).
std::string kubectl_edit(std::string_view kind, std::string_view ns, std::string_view name);
// "kubectl patch RESOURCE NAME -n NS --type merge -p '<patch>'"
std::string kubectl_merge_patch(std::string_view resource, std::string_view ns, std::string_view name,
                                const nlohmann::json& patch);
// `kubectl apply -f - <<'EOF'` with one object, for the two kinds doctor tells users to create.
std::string binding_manifest(std::string_view ns, std::string_view name, std::string_view identity,
                             std::string_view selector);
std::string identity_manifest(std::string_view ns, std::string_view name, std::string_view resource_id,
                              std::string_view client_id);
// az role assignment create --assignee-object-id OID --assignee-principal-type ServicePrincipal --role R --scope S
std::string az_role_assignment(std::string_view principal_id, std::string_view role, std::string_view scope);

// The commands in `text` (a line starting with "az " or "kubectl ", or the rest of a line after "Fix: "), joined
// by newlines: the controller's conditions end with the command that fixes them
// (controller/round/round_interpretation.cpp).
std::string commands_in(std::string_view text);

}  // namespace podid::cli
