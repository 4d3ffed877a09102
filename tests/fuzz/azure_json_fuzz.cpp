// SPDX-License-Identifier: Apache-2.0
//
// The controller's cloud configuration (controller/cloud/cloud_config.h): azure.json, the go-autorest environment
// file, and what they resolve to (the ARM credential, the cluster's own identities, the cloud's endpoints).
// Input: the file's text, read both as azure.json and as an environment file.
//
// Properties: no error carries aadClientSecret's or aadClientCertPassword's value; a credential resolved is a
// managed identity or a service principal with its tenant and application id; an environment's endpoints are
// https, or http to loopback only (tokens and secrets never travel in clear).
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/cloud/cloud_config.h"
#include "fuzz_check.h"
#include "podid/ascii.h"
#include "podid/http/client.h"

namespace {

using namespace podid::controller::cloud;

// The file with each secret's value replaced by a marker: what a message must never carry is a value read from a
// secret field, and a message may contain a secret's text by chance, from its own words (the fuzzer found
// "s required: Inva" in "... is required: Invalid ..."). So the secrets' flow is checked on this copy.
constexpr std::string_view kSecretMarker = "podid-fuzz-secret-marker";

std::optional<std::string> with_marked_secrets(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  bool any = false;
  for (const char* key : {"aadClientSecret", "aadClientCertPassword"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) {
      *it = std::string(kSecretMarker);
      any = true;
    }
  }
  if (!any || text.find(kSecretMarker) != std::string_view::npos) return std::nullopt;
  return j.dump();
}

void check_no_secret(const podid::Error& error) {
  FUZZ_CHECK(error.message().find(kSecretMarker) == std::string::npos, "an error carries a secret's value");
}

bool safe_endpoint(const std::string& url) {
  auto parsed = podid::http::Url::parse(url);
  if (!parsed) return false;
  if (parsed->scheme == "https") return true;
  if (parsed->scheme != "http") return false;
  if (podid::ascii::iequals(parsed->host, "localhost")) return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(parsed->host, ec);
  return !ec && address.is_loopback();
}

std::optional<std::string> no_environment(std::string_view) { return std::nullopt; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto marked = with_marked_secrets(text)) {
    auto config = parse_cloud_config(*marked);
    if (!config) {
      check_no_secret(config.error());
    } else if (auto auth = resolve_auth(*config); !auth) {
      check_no_secret(auth.error());
    }
  }

  auto config = parse_cloud_config(text);
  if (config) {
    auto auth = resolve_auth(*config);  // its errors' secrets are checked on the marked copy above
    if (auth && auth->method != AuthMethod::kManagedIdentity) {
      FUZZ_CHECK(!auth->client_id.empty() && !auth->tenant_id.empty(), "a service principal without tenant or app id");
    }
    auto ids = immutable_client_ids(*config);
    FUZZ_CHECK(ids.size() <= 1 && (ids.empty() || ids[0] == config->user_assigned_identity_id),
               "an immutable identity the configuration does not name");
    if (auto environment = resolve_environment(*config, no_environment)) {
      FUZZ_CHECK(environment->resource_manager_endpoint.starts_with("https://"), "a built-in cloud that is not https");
    }
  }

  if (auto environment = parse_environment_file(text)) {
    FUZZ_CHECK(
        safe_endpoint(environment->resource_manager_endpoint) && safe_endpoint(environment->active_directory_endpoint),
        "an environment endpoint tokens would reach in clear");
    FUZZ_CHECK(!environment->token_audience.empty() && !environment->name.empty(), "an environment without audience");
  }
  return 0;
}
