// SPDX-License-Identifier: Apache-2.0
//
// Where podid-controller finds Azure and how it authenticates to ARM, read the way aad-pod-identity's MIC read
// it (reference/aad-pod-identity.md §2.10, azure-wire-formats.md §5.6):
//   - the cloud provider's /etc/kubernetes/azure.json (JSON; fields MIC does not use are ignored), or
//   - without a file, the predecessor's environment variables (the admin-secret deployment): CLOUD, TENANT_ID,
//     CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID, RESOURCE_GROUP, VM_TYPE, USE_MSI, USER_ASSIGNED_MSI_CLIENT_ID.
// The cloud's endpoints come from its name, or from a go-autorest environment file named by
// AZURE_ENVIRONMENT_FILEPATH (Azure Stack, and the tests' emulators on 127.0.0.1).
//
// Errors: Result with std::errc::invalid_argument (a file that cannot be read: its errno) and a context naming
// the field or variable at fault, never a secret's value. Start-up only; nothing here does network I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podid/result.h"

namespace podid::controller::cloud {

// The azure.json fields MIC reads, under their JSON names.
struct CloudConfig {
  std::string cloud;            // cloud: "" = AzurePublicCloud
  std::string tenant_id;        // tenantId
  std::string subscription_id;  // subscriptionId
  std::string resource_group;   // resourceGroup: the node resource group
  std::string vm_type;          // vmType: informational; VMSS vs VM is decided per node from its providerID
  bool use_managed_identity_extension = false;  // useManagedIdentityExtension
  std::string user_assigned_identity_id;        // userAssignedIdentityID: a client id; "" = system-assigned
  std::string aad_client_id;                    // aadClientId ("msi" when AKS uses a managed identity)
  std::string aad_client_secret;                // aadClientSecret ("msi" likewise)
  std::string aad_client_cert_path;             // aadClientCertPath: PKCS#12
  std::string aad_client_cert_password;         // aadClientCertPassword
};

// A process environment variable, or nullopt when unset. Tests pass a map.
using EnvGetter = std::function<std::optional<std::string>(std::string_view name)>;
EnvGetter process_environment();

// azure.json's text. Unknown fields are ignored; a known field of the wrong JSON type (null counts as absent) is
// an error naming it. The file must be one JSON object.
Result<CloudConfig> parse_cloud_config(std::string_view json_text);
Result<CloudConfig> read_cloud_config_file(const std::string& path);
// The environment-variable form. USE_MSI is "true" or "false" in any case (or unset/empty = false); anything
// else is an error rather than a silent false.
Result<CloudConfig> cloud_config_from_env(const EnvGetter& env);
// `path` non-empty: the file; empty: the environment variables.
Result<CloudConfig> load_cloud_config(const std::string& path, const EnvGetter& env);

// --- the cloud's endpoints -------------------------------------------------------------------------------------

inline constexpr std::string_view kEnvironmentFileVariable = "AZURE_ENVIRONMENT_FILEPATH";

struct CloudEnvironment {
  std::string name;
  std::string resource_manager_endpoint;  // "https://management.azure.com/"
  std::string active_directory_endpoint;  // "https://login.microsoftonline.com/": the Entra ID authority
  std::string token_audience;             // the resource ARM tokens are asked for
};

// AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureGermanCloud (names compared ignoring case).
// AzureStackCloud has no built-in endpoints: it needs the environment file.
Result<CloudEnvironment> known_environment(std::string_view name);
// A go-autorest Environment JSON: name, resourceManagerEndpoint and activeDirectoryEndpoint (required),
// tokenAudience (else serviceManagementEndpoint, else resourceManagerEndpoint). Endpoints must be https URLs,
// or http to a loopback host (emulators): an ARM token or client secret never travels in clear.
Result<CloudEnvironment> parse_environment_file(std::string_view json_text);
// The environment of `config`: the file named by AZURE_ENVIRONMENT_FILEPATH when that is set (whatever the
// cloud name), else the built-in one for config.cloud.
Result<CloudEnvironment> resolve_environment(const CloudConfig& config, const EnvGetter& env);

// --- how to authenticate to ARM ----------------------------------------------------------------------------------

enum class AuthMethod { kManagedIdentity, kClientSecret, kClientCertificate };

struct ArmAuth {
  AuthMethod method = AuthMethod::kManagedIdentity;
  std::string client_id;  // managed identity: the user-assigned client id, "" = system-assigned; else the app id
  std::string tenant_id;  // service principal only
  std::string client_secret;
  std::string cert_path;
  std::string cert_password;
};

// Managed identity when useManagedIdentityExtension (user-assigned if userAssignedIdentityID is set) > client
// secret > client certificate, as cloud-provider-azure orders them. A service principal needs tenantId and
// aadClientId; the "msi" placeholders AKS writes are not credentials. Nothing usable: an error saying what to set.
Result<ArmAuth> resolve_auth(const CloudConfig& config);

// The cluster's own identities, never to be removed from a scale set: the user-assigned identity the cloud
// config names (AKS's kubelet identity), when set.
std::vector<std::string> immutable_client_ids(const CloudConfig& config);

}  // namespace podid::controller::cloud
