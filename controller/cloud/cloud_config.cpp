// SPDX-License-Identifier: Apache-2.0
#include "controller/cloud/cloud_config.h"

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "podid/ascii.h"
#include "podid/http/client.h"

namespace podid::controller::cloud {
namespace {

using nlohmann::json;

Error invalid(std::string context) { return {std::make_error_code(std::errc::invalid_argument), std::move(context)}; }

const char* type_name(const json& j) { return j.type_name(); }

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return os_error(errno ? errno : ENOENT, "read " + std::string(what) + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return os_error(errno ? errno : EIO, "read " + std::string(what) + " " + path);
  return text.str();
}

// A top-level object from `text`, or why not.
Result<json> parse_object(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid(std::string(what) + ": not valid JSON");
  if (!j.is_object()) return invalid(std::string(what) + ": not a JSON object (got " + type_name(j) + ")");
  return j;
}

// Optional fields: absent or null leave `out` as it is; another type is an error naming the field.
Status read_string(const json& obj, const char* field, std::string_view what, std::string& out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) {
    return invalid(std::string(what) + ": \"" + field + "\" must be a string, not " + type_name(*it));
  }
  out = it->get<std::string>();
  return {};
}

Status read_bool(const json& obj, const char* field, std::string_view what, bool& out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_boolean()) {
    return invalid(std::string(what) + ": \"" + field + "\" must be true or false, not " + type_name(*it));
  }
  out = it->get<bool>();
  return {};
}

bool is_loopback(const std::string& host) {
  if (ascii::iequals(host, "localhost")) return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

// An endpoint a bearer token or client secret may be sent to.
Status check_endpoint(const std::string& value, const char* field) {
  auto url = http::Url::parse(value);
  if (!url) return invalid(std::string("environment file: \"") + field + "\": " + url.error().message());
  if (url->scheme == "http" && !is_loopback(url->host)) {
    return invalid(std::string("environment file: \"") + field + "\" " + value +
                   " is not https: tokens and secrets would travel in clear (http is allowed to loopback only)");
  }
  return {};
}

CloudEnvironment builtin(const char* name, const char* arm, const char* aad) { return {name, arm, aad, arm}; }

}  // namespace

EnvGetter process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<CloudConfig> parse_cloud_config(std::string_view json_text) {
  constexpr std::string_view kWhat = "azure.json";
  auto j = parse_object(json_text, kWhat);
  if (!j) return j.error();
  CloudConfig c;
  for (auto [field, out] : {std::pair{"cloud", &c.cloud},
                            std::pair{"tenantId", &c.tenant_id},
                            std::pair{"subscriptionId", &c.subscription_id},
                            std::pair{"resourceGroup", &c.resource_group},
                            std::pair{"vmType", &c.vm_type},
                            std::pair{"userAssignedIdentityID", &c.user_assigned_identity_id},
                            std::pair{"aadClientId", &c.aad_client_id},
                            std::pair{"aadClientSecret", &c.aad_client_secret},
                            std::pair{"aadClientCertPath", &c.aad_client_cert_path},
                            std::pair{"aadClientCertPassword", &c.aad_client_cert_password}}) {
    if (auto ok = read_string(*j, field, kWhat, *out); !ok) return ok.error();
  }
  if (auto ok = read_bool(*j, "useManagedIdentityExtension", kWhat, c.use_managed_identity_extension); !ok) {
    return ok.error();
  }
  return c;
}

Result<CloudConfig> read_cloud_config_file(const std::string& path) {
  auto text = read_file(path, "cloud config");
  if (!text) return text.error();
  auto config = parse_cloud_config(*text);
  if (!config) return config.error().wrap(path);
  return config;
}

Result<CloudConfig> cloud_config_from_env(const EnvGetter& env) {
  CloudConfig c;
  auto get = [&](std::string_view name) { return env(name).value_or(""); };
  c.cloud = get("CLOUD");
  c.tenant_id = get("TENANT_ID");
  c.aad_client_id = get("CLIENT_ID");
  c.aad_client_secret = get("CLIENT_SECRET");
  c.subscription_id = get("SUBSCRIPTION_ID");
  c.resource_group = get("RESOURCE_GROUP");
  c.vm_type = get("VM_TYPE");
  c.user_assigned_identity_id = get("USER_ASSIGNED_MSI_CLIENT_ID");
  const std::string use_msi = get("USE_MSI");
  if (ascii::iequals(use_msi, "true")) {
    c.use_managed_identity_extension = true;
  } else if (!use_msi.empty() && !ascii::iequals(use_msi, "false")) {
    return invalid("USE_MSI must be \"true\" or \"false\", not \"" + use_msi + "\"");
  }
  return c;
}

Result<CloudConfig> load_cloud_config(const std::string& path, const EnvGetter& env) {
  return path.empty() ? cloud_config_from_env(env) : read_cloud_config_file(path);
}

Result<CloudEnvironment> known_environment(std::string_view name) {
  // go-autorest's built-in environments (autorest/azure/environments.go).
  if (name.empty() || ascii::iequals(name, "AzurePublicCloud")) {
    return builtin("AzurePublicCloud", "https://management.azure.com/", "https://login.microsoftonline.com/");
  }
  if (ascii::iequals(name, "AzureUSGovernmentCloud")) {
    return builtin("AzureUSGovernmentCloud", "https://management.usgovcloudapi.net/",
                   "https://login.microsoftonline.us/");
  }
  if (ascii::iequals(name, "AzureChinaCloud")) {
    return builtin("AzureChinaCloud", "https://management.chinacloudapi.cn/", "https://login.chinacloudapi.cn/");
  }
  if (ascii::iequals(name, "AzureGermanCloud")) {
    return builtin("AzureGermanCloud", "https://management.microsoftazure.de/", "https://login.microsoftonline.de/");
  }
  if (ascii::iequals(name, "AzureStackCloud")) {
    return invalid("cloud AzureStackCloud has no built-in endpoints: set " + std::string(kEnvironmentFileVariable) +
                   " to its environment file");
  }
  return invalid("unknown cloud \"" + std::string(name) +
                 "\": use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureGermanCloud, or set " +
                 std::string(kEnvironmentFileVariable));
}

Result<CloudEnvironment> parse_environment_file(std::string_view json_text) {
  constexpr std::string_view kWhat = "environment file";
  auto j = parse_object(json_text, kWhat);
  if (!j) return j.error();
  CloudEnvironment e;
  std::string service_management;
  for (auto [field, out] : {std::pair{"name", &e.name},
                            std::pair{"resourceManagerEndpoint", &e.resource_manager_endpoint},
                            std::pair{"activeDirectoryEndpoint", &e.active_directory_endpoint},
                            std::pair{"tokenAudience", &e.token_audience},
                            std::pair{"serviceManagementEndpoint", &service_management}}) {
    if (auto ok = read_string(*j, field, kWhat, *out); !ok) return ok.error();
  }
  for (auto [field, value] : {std::pair{"resourceManagerEndpoint", &e.resource_manager_endpoint},
                              std::pair{"activeDirectoryEndpoint", &e.active_directory_endpoint}}) {
    if (value->empty()) return invalid(std::string(kWhat) + ": \"" + field + "\" is required");
    if (auto ok = check_endpoint(*value, field); !ok) return ok.error();
  }
  if (e.token_audience.empty()) e.token_audience = service_management;
  if (e.token_audience.empty()) e.token_audience = e.resource_manager_endpoint;
  if (e.name.empty()) e.name = "custom";
  return e;
}

Result<CloudEnvironment> resolve_environment(const CloudConfig& config, const EnvGetter& env) {
  const std::string path = env(kEnvironmentFileVariable).value_or("");
  if (path.empty()) return known_environment(config.cloud);
  auto text = read_file(path, std::string(kEnvironmentFileVariable));
  if (!text) return text.error();
  auto environment = parse_environment_file(*text);
  if (!environment) return environment.error().wrap(path);
  return environment;
}

Result<ArmAuth> resolve_auth(const CloudConfig& c) {
  if (c.use_managed_identity_extension) {
    return ArmAuth{.method = AuthMethod::kManagedIdentity, .client_id = c.user_assigned_identity_id};
  }
  // AKS writes aadClientId and aadClientSecret "msi" when the cluster uses a managed identity.
  const bool placeholder_id = ascii::iequals(c.aad_client_id, "msi");
  const bool placeholder_secret = ascii::iequals(c.aad_client_secret, "msi");
  if (placeholder_id || placeholder_secret) {
    return invalid(std::string(placeholder_id ? "aadClientId" : "aadClientSecret") +
                   " is \"msi\", AKS's placeholder for a managed identity, but useManagedIdentityExtension (USE_MSI) "
                   "is not true: set it to true to use the node's managed identity");
  }
  auto service_principal = [&](AuthMethod method) -> Result<ArmAuth> {
    const char* with = method == AuthMethod::kClientSecret ? "aadClientSecret" : "aadClientCertPath";
    if (c.aad_client_id.empty()) {
      return invalid(std::string(with) + " is set but aadClientId (CLIENT_ID) is empty: the service principal's "
                     "application id is required");
    }
    if (c.tenant_id.empty()) {
      return invalid(std::string(with) + " is set but tenantId (TENANT_ID) is empty: a service principal signs in "
                     "to its tenant");
    }
    return ArmAuth{.method = method,
                   .client_id = c.aad_client_id,
                   .tenant_id = c.tenant_id,
                   .client_secret = method == AuthMethod::kClientSecret ? c.aad_client_secret : "",
                   .cert_path = method == AuthMethod::kClientCertificate ? c.aad_client_cert_path : "",
                   .cert_password = method == AuthMethod::kClientCertificate ? c.aad_client_cert_password : ""};
  };
  if (!c.aad_client_secret.empty()) return service_principal(AuthMethod::kClientSecret);
  if (!c.aad_client_cert_path.empty()) return service_principal(AuthMethod::kClientCertificate);
  return invalid(
      "no ARM credential configured: set useManagedIdentityExtension to true (managed identity; "
      "userAssignedIdentityID for a user-assigned one), or tenantId, aadClientId and aadClientSecret, or tenantId, "
      "aadClientId and aadClientCertPath (environment form: USE_MSI, USER_ASSIGNED_MSI_CLIENT_ID, TENANT_ID, "
      "CLIENT_ID, CLIENT_SECRET)");
}

std::vector<std::string> immutable_client_ids(const CloudConfig& config) {
  if (config.user_assigned_identity_id.empty()) return {};
  return {config.user_assigned_identity_id};
}

}  // namespace podid::controller::cloud
