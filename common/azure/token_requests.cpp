// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/token_requests.h"

#include "podid/encoding/percent.h"
#include "podid/error.h"

namespace podid::azure {
namespace {

namespace bh = boost::beast::http;

bool tenant_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted form; a name that merely starts with "127." is not an address.
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::string base_form(std::string_view client_id, std::string_view resource) {
  return "client_id=" + encoding::percent_encode(client_id) + "&scope=" + encoding::percent_encode(entra_scope(resource)) +
         "&grant_type=client_credentials";
}

}  // namespace

http::Request imds_token_request(std::string_view base_path, std::string_view resource, std::string_view client_id) {
  std::string target(base_path);
  while (!target.empty() && target.back() == '/') target.pop_back();
  target += "/metadata/identity/oauth2/token?api-version=";
  target += kImdsApiVersion;
  target += "&resource=" + encoding::percent_encode(resource);
  if (!client_id.empty()) target += "&client_id=" + encoding::percent_encode(client_id);

  http::Request req{bh::verb::get, target, 11};
  req.set("Metadata", "true");
  req.set(bh::field::accept, "application/json");
  return req;
}

Result<std::string> entra_token_endpoint(std::string_view authority, std::string_view tenant) {
  if (tenant.empty()) return invalid_argument("Entra ID tenant id is empty");
  for (char c : tenant) {
    if (!tenant_char(c)) return invalid_argument("Entra ID tenant id \"" + std::string(tenant) + "\" is not a GUID or domain");
  }
  if (tenant == "." || tenant == "..") return invalid_argument("Entra ID tenant id \"" + std::string(tenant) + "\"");
  if (authority.empty()) authority = kDefaultEntraAuthority;
  if (authority.find_first_of("?#") != std::string_view::npos) {
    return invalid_argument("Entra ID authority \"" + std::string(authority) + "\" has a query or fragment");
  }
  std::string url(authority);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/" + std::string(tenant) + "/oauth2/v2.0/token";
}

Status check_entra_transport(std::string_view scheme, std::string_view host) {
  if (scheme == "https") return {};
  if (scheme == "http" && is_loopback(host)) return {};
  return invalid_argument("Entra ID authority " + std::string(scheme) + "://" + std::string(host) +
                 " is not https: a client credential would travel in clear (http is allowed to loopback only)");
}

Result<EntraEndpoint> entra_endpoint(std::string_view authority, std::string_view tenant) {
  auto endpoint = entra_token_endpoint(authority, tenant);
  if (!endpoint) return endpoint.error();
  auto url = http::Url::parse(*endpoint);
  if (!url) return url.error().wrap("Entra ID authority");
  if (auto ok = check_entra_transport(url->scheme, url->host); !ok) return ok.error();
  return EntraEndpoint{std::move(endpoint).value(), std::move(url).value()};
}

std::string entra_scope(std::string_view resource) {
  // As the azwi proxy builds it: a resource already given as a scope stays one.
  if (resource.ends_with("/.default")) return std::string(resource);
  return std::string(resource) + "/.default";
}

std::string entra_secret_form(std::string_view client_id, std::string_view resource, std::string_view secret) {
  return base_form(client_id, resource) + "&client_secret=" + encoding::percent_encode(secret);
}

std::string entra_assertion_form(std::string_view client_id, std::string_view resource, std::string_view assertion) {
  return base_form(client_id, resource) +
         "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
         "&client_assertion=" +
         encoding::percent_encode(assertion);
}

http::Request entra_token_request(std::string_view target, std::string form) {
  http::Request req{bh::verb::post, target, 11};
  req.set(bh::field::content_type, "application/x-www-form-urlencoded;charset=utf-8");
  req.set(bh::field::accept, "application/json");
  req.body() = std::move(form);
  req.prepare_payload();
  return req;
}

}  // namespace podid::azure
