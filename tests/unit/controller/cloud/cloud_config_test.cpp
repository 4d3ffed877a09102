// SPDX-License-Identifier: Apache-2.0
// The cloud config in both forms (azure.json, the predecessor's environment variables), the cloud's endpoints
// (built-in names and go-autorest environment files) and the ARM auth method chosen from them: what each input
// gives, and a clear error for every bad one.
#include "controller/cloud/cloud_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace podid::controller::cloud {
namespace {

using Env = std::map<std::string, std::string>;

EnvGetter env_of(Env vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A file in the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("podid-cloud-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".json");
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// Also takes a Status (Result<void>).
template <class T>
void expect_error(const Result<T>& r, std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(r.ok());
  for (auto part : parts) EXPECT_NE(r.error().message().find(part), std::string::npos) << r.error().message();
}

// What AKS writes on a cluster with a managed identity (fields MIC does not read included).
constexpr const char* kAksManagedIdentity = R"({
  "cloud": "AzurePublicCloud",
  "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "subscriptionId": "11111111-2222-3333-4444-555555555555",
  "aadClientId": "msi",
  "aadClientSecret": "msi",
  "resourceGroup": "MC_rg_cluster_westeurope",
  "location": "westeurope",
  "vmType": "vmss",
  "subnetName": "aks-subnet",
  "securityGroupName": "aks-agentpool-nsg",
  "vnetName": "aks-vnet",
  "primaryScaleSetName": "aks-nodepool1-vmss",
  "cloudProviderBackoff": true,
  "cloudProviderBackoffRetries": 6,
  "cloudProviderRateLimitQPS": 10.5,
  "useManagedIdentityExtension": true,
  "userAssignedIdentityID": "8d3a1a3e-0000-4000-8000-00000000beef",
  "useInstanceMetadata": true,
  "loadBalancerSku": "Standard",
  "maximumLoadBalancerRuleCount": 250,
  "tags": {"a": "b"}
})";

// --- azure.json ---------------------------------------------------------------------------------------------------

TEST(CloudConfigFile, AksManagedIdentity) {
  auto c = parse_cloud_config(kAksManagedIdentity);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->cloud, "AzurePublicCloud");
  EXPECT_EQ(c->tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
  EXPECT_EQ(c->subscription_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(c->resource_group, "MC_rg_cluster_westeurope");
  EXPECT_EQ(c->vm_type, "vmss");
  EXPECT_TRUE(c->use_managed_identity_extension);
  EXPECT_EQ(c->user_assigned_identity_id, "8d3a1a3e-0000-4000-8000-00000000beef");
  EXPECT_EQ(c->aad_client_id, "msi");

  auto auth = resolve_auth(*c);
  ASSERT_TRUE(auth.ok()) << auth.error().message();
  EXPECT_EQ(auth->method, AuthMethod::kManagedIdentity);
  EXPECT_EQ(auth->client_id, "8d3a1a3e-0000-4000-8000-00000000beef");
  EXPECT_EQ(immutable_client_ids(*c), std::vector<std::string>{"8d3a1a3e-0000-4000-8000-00000000beef"});
}

TEST(CloudConfigFile, SystemAssignedManagedIdentity) {
  auto c = parse_cloud_config(R"({"useManagedIdentityExtension": true, "subscriptionId": "s"})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto auth = resolve_auth(*c);
  ASSERT_TRUE(auth.ok()) << auth.error().message();
  EXPECT_EQ(auth->method, AuthMethod::kManagedIdentity);
  EXPECT_EQ(auth->client_id, "");
  EXPECT_TRUE(immutable_client_ids(*c).empty());
}

TEST(CloudConfigFile, ServicePrincipalSecret) {
  auto c = parse_cloud_config(
      R"({"tenantId":"t-1","aadClientId":"app-1","aadClientSecret":"s3cr3t","subscriptionId":"s","resourceGroup":"rg"})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->use_managed_identity_extension);
  auto auth = resolve_auth(*c);
  ASSERT_TRUE(auth.ok()) << auth.error().message();
  EXPECT_EQ(auth->method, AuthMethod::kClientSecret);
  EXPECT_EQ(auth->client_id, "app-1");
  EXPECT_EQ(auth->tenant_id, "t-1");
  EXPECT_EQ(auth->client_secret, "s3cr3t");
  EXPECT_TRUE(auth->cert_path.empty());
}

TEST(CloudConfigFile, ServicePrincipalCertificate) {
  auto c = parse_cloud_config(
      R"({"tenantId":"t-1","aadClientId":"app-1","aadClientCertPath":"/etc/kubernetes/sp.pfx","aadClientCertPassword":"pw"})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto auth = resolve_auth(*c);
  ASSERT_TRUE(auth.ok()) << auth.error().message();
  EXPECT_EQ(auth->method, AuthMethod::kClientCertificate);
  EXPECT_EQ(auth->cert_path, "/etc/kubernetes/sp.pfx");
  EXPECT_EQ(auth->cert_password, "pw");
  EXPECT_TRUE(auth->client_secret.empty());
}

TEST(CloudConfigAuth, ManagedIdentityBeatsSecretBeatsCertificate) {
  CloudConfig c{.tenant_id = "t",
                .use_managed_identity_extension = true,
                .user_assigned_identity_id = "uami",
                .aad_client_id = "app",
                .aad_client_secret = "secret",
                .aad_client_cert_path = "/x.pfx"};
  EXPECT_EQ(resolve_auth(c)->method, AuthMethod::kManagedIdentity);
  c.use_managed_identity_extension = false;
  EXPECT_EQ(resolve_auth(c)->method, AuthMethod::kClientSecret);
  c.aad_client_secret.clear();
  EXPECT_EQ(resolve_auth(c)->method, AuthMethod::kClientCertificate);
  c.aad_client_cert_path.clear();
  expect_error(resolve_auth(c), {"no ARM credential configured", "useManagedIdentityExtension", "aadClientSecret"});
}

TEST(CloudConfigAuth, MsiPlaceholdersWithoutManagedIdentityAreRefused) {
  CloudConfig c{.tenant_id = "t", .aad_client_id = "msi", .aad_client_secret = "msi"};
  expect_error(resolve_auth(c), {"aadClientId", "\"msi\"", "useManagedIdentityExtension"});
  c.aad_client_id = "app";
  expect_error(resolve_auth(c), {"aadClientSecret", "\"msi\""});
  c.aad_client_secret = "MSI";
  expect_error(resolve_auth(c), {"placeholder"});
}

TEST(CloudConfigAuth, ServicePrincipalNeedsTenantAndClientId) {
  expect_error(resolve_auth(CloudConfig{.aad_client_id = "app", .aad_client_secret = "s"}), {"tenantId", "TENANT_ID"});
  expect_error(resolve_auth(CloudConfig{.tenant_id = "t", .aad_client_secret = "s"}), {"aadClientId", "CLIENT_ID"});
  expect_error(resolve_auth(CloudConfig{.aad_client_id = "app", .aad_client_cert_path = "/c.pfx"}), {"tenantId"});
}

TEST(CloudConfigAuth, ErrorsNeverShowTheSecret) {
  auto r = resolve_auth(CloudConfig{.aad_client_id = "app", .aad_client_secret = "hunter2-secret"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find("hunter2"), std::string::npos);
}

TEST(CloudConfigFile, NullFieldsAreAbsent) {
  auto c = parse_cloud_config(R"({"tenantId": null, "useManagedIdentityExtension": null, "cloud": "AzureChinaCloud"})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->tenant_id, "");
  EXPECT_FALSE(c->use_managed_identity_extension);
  EXPECT_EQ(c->cloud, "AzureChinaCloud");
}

TEST(CloudConfigFile, BadInput) {
  expect_error(parse_cloud_config(""), {"azure.json", "not valid JSON"});
  expect_error(parse_cloud_config("{\"tenantId\": \"t\""), {"not valid JSON"});
  expect_error(parse_cloud_config("[]"), {"not a JSON object", "array"});
  expect_error(parse_cloud_config(R"({"useManagedIdentityExtension": "true"})"),
               {"useManagedIdentityExtension", "true or false", "string"});
  expect_error(parse_cloud_config(R"({"tenantId": 42})"), {"\"tenantId\"", "must be a string", "number"});
  expect_error(parse_cloud_config(R"({"aadClientSecret": {"value": "x"}})"), {"\"aadClientSecret\"", "object"});
  expect_error(parse_cloud_config(R"({"userAssignedIdentityID": ["a"]})"), {"\"userAssignedIdentityID\""});
}

TEST(CloudConfigFile, ReadsAFile) {
  TempFile f(kAksManagedIdentity);
  auto c = read_cloud_config_file(f.path());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->resource_group, "MC_rg_cluster_westeurope");

  auto via_load = load_cloud_config(f.path(), env_of({{"CLIENT_ID", "from-env"}}));
  ASSERT_TRUE(via_load.ok());
  EXPECT_EQ(via_load->aad_client_id, "msi") << "a file given: the environment is not read";
}

TEST(CloudConfigFile, MissingOrBadFileNamesThePath) {
  auto missing = read_cloud_config_file("/nonexistent/podid/azure.json");
  expect_error(missing, {"/nonexistent/podid/azure.json"});
  EXPECT_EQ(missing.error().code, std::error_code(ENOENT, std::system_category()));

  TempFile bad(R"({"vmType": 1})");
  expect_error(read_cloud_config_file(bad.path()), {bad.path(), "\"vmType\""});
}

// --- environment variables ------------------------------------------------------------------------------------

TEST(CloudConfigEnv, EveryVariable) {
  auto c = cloud_config_from_env(env_of({{"CLOUD", "AzureUSGovernmentCloud"},
                                         {"TENANT_ID", "t-1"},
                                         {"CLIENT_ID", "app-1"},
                                         {"CLIENT_SECRET", "s"},
                                         {"SUBSCRIPTION_ID", "sub-1"},
                                         {"RESOURCE_GROUP", "rg-1"},
                                         {"VM_TYPE", "standard"},
                                         {"USE_MSI", "TRUE"},
                                         {"USER_ASSIGNED_MSI_CLIENT_ID", "uami-1"}}));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->cloud, "AzureUSGovernmentCloud");
  EXPECT_EQ(c->tenant_id, "t-1");
  EXPECT_EQ(c->aad_client_id, "app-1");
  EXPECT_EQ(c->aad_client_secret, "s");
  EXPECT_EQ(c->subscription_id, "sub-1");
  EXPECT_EQ(c->resource_group, "rg-1");
  EXPECT_EQ(c->vm_type, "standard");
  EXPECT_TRUE(c->use_managed_identity_extension);
  EXPECT_EQ(c->user_assigned_identity_id, "uami-1");
  EXPECT_EQ(resolve_auth(*c)->method, AuthMethod::kManagedIdentity);
}

TEST(CloudConfigEnv, ServicePrincipalFromTheAdminSecret) {
  auto c = load_cloud_config("", env_of({{"TENANT_ID", "t"}, {"CLIENT_ID", "app"}, {"CLIENT_SECRET", "s"},
                                         {"USE_MSI", "false"}}));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->use_managed_identity_extension);
  auto auth = resolve_auth(*c);
  ASSERT_TRUE(auth.ok()) << auth.error().message();
  EXPECT_EQ(auth->method, AuthMethod::kClientSecret);
}

TEST(CloudConfigEnv, UseMsiValues) {
  for (const char* yes : {"true", "True", "tRuE"}) {
    EXPECT_TRUE(cloud_config_from_env(env_of({{"USE_MSI", yes}}))->use_managed_identity_extension) << yes;
  }
  for (const char* no : {"false", "FALSE", ""}) {
    EXPECT_FALSE(cloud_config_from_env(env_of({{"USE_MSI", no}}))->use_managed_identity_extension) << no;
  }
  EXPECT_FALSE(cloud_config_from_env(env_of({}))->use_managed_identity_extension);
  expect_error(cloud_config_from_env(env_of({{"USE_MSI", "yes"}})), {"USE_MSI", "\"yes\""});
  expect_error(cloud_config_from_env(env_of({{"USE_MSI", "1"}})), {"USE_MSI"});
}

TEST(CloudConfigEnv, NothingSetIsNoCredential) {
  auto c = cloud_config_from_env(env_of({}));
  ASSERT_TRUE(c.ok());
  expect_error(resolve_auth(*c), {"no ARM credential configured", "USE_MSI", "CLIENT_SECRET"});
}

TEST(CloudConfigEnv, ProcessEnvironmentReadsVariables) {
  ::setenv("PODID_CLOUD_TEST_VAR", "v-1", 1);
  ::unsetenv("PODID_CLOUD_TEST_UNSET");
  auto env = process_environment();
  EXPECT_EQ(env("PODID_CLOUD_TEST_VAR"), std::optional<std::string>("v-1"));
  EXPECT_EQ(env("PODID_CLOUD_TEST_UNSET"), std::nullopt);
  ::unsetenv("PODID_CLOUD_TEST_VAR");
}

// --- environments -----------------------------------------------------------------------------------------------

TEST(CloudEnvironmentTest, BuiltInClouds) {
  struct Case {
    const char* cloud;
    const char* name;
    const char* arm;
    const char* aad;
  };
  const Case cases[] = {
      {"", "AzurePublicCloud", "https://management.azure.com/", "https://login.microsoftonline.com/"},
      {"AzurePublicCloud", "AzurePublicCloud", "https://management.azure.com/", "https://login.microsoftonline.com/"},
      {"azurepubliccloud", "AzurePublicCloud", "https://management.azure.com/", "https://login.microsoftonline.com/"},
      {"AzureUSGovernmentCloud", "AzureUSGovernmentCloud", "https://management.usgovcloudapi.net/",
       "https://login.microsoftonline.us/"},
      {"AZURECHINACLOUD", "AzureChinaCloud", "https://management.chinacloudapi.cn/",
       "https://login.chinacloudapi.cn/"},
      {"AzureGermanCloud", "AzureGermanCloud", "https://management.microsoftazure.de/",
       "https://login.microsoftonline.de/"},
  };
  for (const auto& c : cases) {
    auto e = resolve_environment(CloudConfig{.cloud = c.cloud}, env_of({}));
    ASSERT_TRUE(e.ok()) << c.cloud << ": " << e.error().message();
    EXPECT_EQ(e->name, c.name);
    EXPECT_EQ(e->resource_manager_endpoint, c.arm);
    EXPECT_EQ(e->active_directory_endpoint, c.aad);
    EXPECT_EQ(e->token_audience, c.arm) << "ARM tokens are for the resource manager";
  }
}

TEST(CloudEnvironmentTest, UnknownCloudAndAzureStackWithoutFile) {
  expect_error(known_environment("AzureMoonCloud"), {"unknown cloud", "AzureMoonCloud", "AZURE_ENVIRONMENT_FILEPATH"});
  expect_error(resolve_environment(CloudConfig{.cloud = "AzureStackCloud"}, env_of({})),
               {"AzureStackCloud", "AZURE_ENVIRONMENT_FILEPATH"});
}

constexpr const char* kStackEnvironment = R"({
  "name": "AzureStackCloud",
  "managementPortalURL": "https://portal.local.azurestack.external/",
  "serviceManagementEndpoint": "https://management.adfs.azurestack.local/abcd",
  "resourceManagerEndpoint": "https://management.local.azurestack.external/",
  "activeDirectoryEndpoint": "https://adfs.local.azurestack.external/adfs/",
  "galleryEndpoint": "https://portal.local.azurestack.external:30015/",
  "graphEndpoint": "https://graph.local.azurestack.external/",
  "tokenAudience": "https://management.adfs.azurestack.local/abcd",
  "resourceIdentifiers": {"graph": "https://graph.local.azurestack.external/"}
})";

TEST(CloudEnvironmentTest, AzureStackFromTheEnvironmentFile) {
  TempFile f(kStackEnvironment);
  auto e = resolve_environment(CloudConfig{.cloud = "AzureStackCloud"},
                               env_of({{"AZURE_ENVIRONMENT_FILEPATH", f.path()}}));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->name, "AzureStackCloud");
  EXPECT_EQ(e->resource_manager_endpoint, "https://management.local.azurestack.external/");
  EXPECT_EQ(e->active_directory_endpoint, "https://adfs.local.azurestack.external/adfs/");
  EXPECT_EQ(e->token_audience, "https://management.adfs.azurestack.local/abcd");
}

TEST(CloudEnvironmentTest, TheFileWinsForAnyCloudAndMayPointAtLoopback) {
  TempFile f(R"({"name":"Emulators","resourceManagerEndpoint":"http://127.0.0.1:40001/",
                 "activeDirectoryEndpoint":"http://127.0.0.1:40002/"})");
  auto e = resolve_environment(CloudConfig{.cloud = "AzurePublicCloud"},
                               env_of({{"AZURE_ENVIRONMENT_FILEPATH", f.path()}}));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->name, "Emulators");
  EXPECT_EQ(e->resource_manager_endpoint, "http://127.0.0.1:40001/");
  EXPECT_EQ(e->token_audience, "http://127.0.0.1:40001/") << "no audience given: the resource manager's";
}

TEST(CloudEnvironmentTest, AudienceFallsBackToServiceManagement) {
  auto e = parse_environment_file(R"({"resourceManagerEndpoint":"https://arm.example/",
      "activeDirectoryEndpoint":"https://login.example/","serviceManagementEndpoint":"https://sm.example/"})");
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->token_audience, "https://sm.example/");
  EXPECT_EQ(e->name, "custom");
}

TEST(CloudEnvironmentTest, BadEnvironmentFiles) {
  expect_error(parse_environment_file("nope"), {"environment file", "not valid JSON"});
  expect_error(parse_environment_file(R"({"activeDirectoryEndpoint":"https://login.example/"})"),
               {"\"resourceManagerEndpoint\" is required"});
  expect_error(parse_environment_file(R"({"resourceManagerEndpoint":"https://arm.example/"})"),
               {"\"activeDirectoryEndpoint\" is required"});
  expect_error(parse_environment_file(R"({"resourceManagerEndpoint":5,"activeDirectoryEndpoint":"https://l/"})"),
               {"\"resourceManagerEndpoint\"", "must be a string"});
  expect_error(
      parse_environment_file(R"({"resourceManagerEndpoint":"http://arm.example/","activeDirectoryEndpoint":"https://l/"})"),
      {"resourceManagerEndpoint", "not https", "loopback"});
  expect_error(
      parse_environment_file(R"({"resourceManagerEndpoint":"https://arm/","activeDirectoryEndpoint":"http://10.0.0.1/"})"),
      {"activeDirectoryEndpoint", "not https"});
  expect_error(
      parse_environment_file(R"({"resourceManagerEndpoint":"management.azure.com","activeDirectoryEndpoint":"https://l/"})"),
      {"resourceManagerEndpoint", "no scheme"});

  expect_error(resolve_environment(CloudConfig{}, env_of({{"AZURE_ENVIRONMENT_FILEPATH", "/nonexistent/env.json"}})),
               {"AZURE_ENVIRONMENT_FILEPATH", "/nonexistent/env.json"});
  TempFile bad(R"({"resourceManagerEndpoint":"https://arm/"})");
  expect_error(resolve_environment(CloudConfig{}, env_of({{"AZURE_ENVIRONMENT_FILEPATH", bad.path()}})),
               {bad.path(), "activeDirectoryEndpoint"});
}

}  // namespace
}  // namespace podid::controller::cloud
