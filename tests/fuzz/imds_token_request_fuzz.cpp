// SPDX-License-Identifier: Apache-2.0
//
// A pod's request to the IMDS address as the agent decides on it (agent/imds/): read by the server's read loop,
// classified, then either parsed as a token request or judged by the passthrough policy. Input: the request
// bytes.
//
// Properties:
//   - a token request is accepted only as GET with exactly one `Metadata: true`, no X-Forwarded-For, a non-empty
//     resource and a known api-version, every used value clean UTF-8 without control characters;
//   - a request is relayed only with a plain path (letters, digits, `-`, `_`, `/`, no empty segment) under an
//     allowed prefix that does not read as the token path, as GET or POST with `Metadata: true`, and with no
//     hop-by-hop, proxy or per-connection header left in it;
//   - the rest of /metadata/identity is answered 404 and never relayed, whatever the allow-list;
//   - every refusal is an IMDS-shaped JSON error with a 4xx status.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "agent/imds/imds_paths.h"
#include "agent/imds/passthrough.h"
#include "agent/imds/token_request.h"
#include "fuzz_check.h"
#include "hop_by_hop.h"
#include "one_request.h"
#include "podid/ascii.h"

namespace {

using namespace podid::agent::imds;
namespace bhttp = boost::beast::http;

bool clean_utf8_text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return false;
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

void check_error(const podid::http::Request& req, const ImdsError& error) {
  auto res = to_response(req, error);
  unsigned status = res.result_int();
  FUZZ_CHECK(status >= 400 && status < 500, "a refusal of a pod's request that is not a 4xx");
  FUZZ_CHECK(!error.reason.empty(), "an error without a reason for the metric and the audit line");
  auto body = nlohmann::json::parse(res.body(), nullptr, false);
  FUZZ_CHECK(body.is_object(), "an error body that is not a JSON object");
}

void check_token_request(const podid::http::Request& req, const TokenRequest& token) {
  FUZZ_CHECK(req.method() == bhttp::verb::get, "a token request that is not a GET was accepted");
  FUZZ_CHECK(req.count("Metadata") == 1 && req["Metadata"] == "true", "a token request without Metadata: true");
  FUZZ_CHECK(req.count("X-Forwarded-For") == 0, "a forwarded token request was accepted");
  FUZZ_CHECK(!token.resource.empty(), "a token request without a resource was accepted");
  FUZZ_CHECK(token.api_version.size() == 10 && token.api_version >= "2018-02-01", "an unknown api-version");
  FUZZ_CHECK(
      clean_utf8_text(token.resource) && clean_utf8_text(token.api_version) && clean_utf8_text(token.selector.value),
      "a value with control characters or invalid UTF-8 was accepted");
}

bool plain_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/';
    if (!plain || (c == '/' && i + 1 < path.size() && path[i + 1] == '/')) return false;
  }
  return true;
}

bool reads_as_token_path(std::string path) {
  for (char& c : path) c = podid::ascii::lower(c);
  size_t at = path.find("identity");
  if (at == std::string::npos) return false;
  at = path.find("oauth2", at + 8);
  return at != std::string::npos && path.find("token", at + 6) != std::string::npos;
}

void check_relayed(const podid::http::Request& from_pod, const podid::http::Request& upstream,
                   const PassthroughPolicy& policy) {
  std::string_view target = upstream.target();
  std::string_view path = target.substr(0, target.find('?'));
  FUZZ_CHECK(target == from_pod.target(), "the relayed target differs from the pod's");
  FUZZ_CHECK(plain_path(path), "a path that is not plain was relayed");
  FUZZ_CHECK(!reads_as_token_path(std::string(path)), "a path reading as the token endpoint was relayed");
  std::string lowered = podid::ascii::lowered(path);
  FUZZ_CHECK(!(lowered == "/metadata/identity" || lowered.starts_with("/metadata/identity/")) ||
                 path == "/metadata/identity/info",
             "a path under /metadata/identity other than /info was relayed");
  bool allowed = false;
  for (std::string_view prefix : policy.allowed_prefixes) {
    if (prefix.ends_with('/')) prefix.remove_suffix(1);  // "/" allows everything, "/a/" is "/a"
    allowed = allowed || (podid::ascii::istarts_with(path, prefix) &&
                          (path.size() == prefix.size() || path[prefix.size()] == '/'));
  }
  FUZZ_CHECK(allowed, "a path under no allowed prefix was relayed");
  if (policy.block_instance_metadata) {
    FUZZ_CHECK(!podid::ascii::istarts_with(path, "/metadata/instance"), "blocked instance metadata was relayed");
  }
  FUZZ_CHECK(upstream.method() == bhttp::verb::get || upstream.method() == bhttp::verb::post,
             "a method other than GET or POST was relayed");
  auto named = podid::fuzz::connection_names(from_pod);
  // A pod that lists Metadata in Connection made it hop-by-hop: IMDS then refuses the request, as it should.
  FUZZ_CHECK(named.count("metadata") || (upstream.count("Metadata") == 1 && upstream["Metadata"] == "true"),
             "relayed without Metadata: true");
  for (const auto& field : upstream) {
    std::string_view name = field.name_string();
    FUZZ_CHECK(!podid::fuzz::always_hop_by_hop(name), "a hop-by-hop header was relayed");
    for (std::string_view never : {"Expect", "Host", "Forwarded", "Via", "X-Real-IP"}) {
      FUZZ_CHECK(!podid::ascii::iequals(name, never), "a proxy or per-connection header was relayed");
    }
    FUZZ_CHECK(!podid::ascii::istarts_with(name, "X-Forwarded-"), "an X-Forwarded-* header was relayed");
    FUZZ_CHECK(!named.count(podid::ascii::lowered(name)), "a header the pod's Connection names was relayed");
  }
  FUZZ_CHECK(upstream.body() == from_pod.body(), "the relayed body differs from the pod's");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static boost::asio::io_context io;
  auto req = podid::fuzz::one_request(io, std::string_view(reinterpret_cast<const char*>(data), size));
  if (!req) return 0;

  PathKind kind = classify_path(req->target());
  if (kind == PathKind::kMalformedToken) {
    check_error(*req, malformed_token_path());
    return 0;
  }
  if (kind == PathKind::kIdentityNotServed) {
    check_error(*req, identity_path_not_served(is_msi_v2_path(req->target())));
    PassthroughPolicy everything{.allowed_prefixes = {"/"}};
    FUZZ_CHECK(!std::holds_alternative<podid::http::Request>(prepare_passthrough(*req, everything)),
               "the identity category was relayed under an allow-everything policy");
    return 0;
  }
  if (kind == PathKind::kToken) {
    auto parsed = parse_token_request(*req);
    if (auto* token = std::get_if<TokenRequest>(&parsed)) {
      check_token_request(*req, *token);
    } else {
      check_error(*req, std::get<ImdsError>(parsed));
    }
    return 0;
  }
  const PassthroughPolicy policies[] = {
      {}, {.block_instance_metadata = true}, {.allowed_prefixes = {"/"}}};  // the default, NMI's block, everything
  for (const auto& policy : policies) {
    auto prepared = prepare_passthrough(*req, policy);
    if (auto* upstream = std::get_if<podid::http::Request>(&prepared)) {
      check_relayed(*req, *upstream, policy);
    } else {
      const ImdsError& error = std::get<ImdsError>(prepared);
      auto res = to_response(*req, error);
      FUZZ_CHECK(res.result_int() >= 400 && res.result_int() < 500, "a passthrough refusal that is not a 4xx");
      FUZZ_CHECK(nlohmann::json::parse(res.body(), nullptr, false).is_object(), "a refusal body that is not JSON");
    }
  }
  return 0;
}
