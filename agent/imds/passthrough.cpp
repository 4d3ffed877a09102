// SPDX-License-Identifier: Apache-2.0
#include "agent/imds/passthrough.h"

#include <array>
#include <string_view>

#include "podid/ascii.h"
#include "agent/imds/imds_paths.h"
#include "agent/imds/token_request.h"  // check_metadata_headers

namespace podid::agent::imds {
namespace {

namespace bhttp = boost::beast::http;

bool is_plain_path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/';
}

// Starts with `/`, plain characters only, no empty segment but a trailing one. With no `.` at all, dot segments
// (and Windows' trailing-dot trimming) cannot occur.
bool is_canonical_path(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (!is_plain_path_char(path[i])) return false;
    if (path[i] == '/' && i + 1 < path.size() && path[i + 1] == '/') return false;
  }
  return true;
}

bool is_allowed(std::string_view path, const std::vector<std::string>& prefixes) {
  for (std::string_view prefix : prefixes) {
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (!ascii::istarts_with(path, prefix)) continue;
    if (path.size() == prefix.size() || path[prefix.size()] == '/') return true;
  }
  return false;
}

constexpr std::array<std::string_view, 14> kNeverRelayed = {
    // hop-by-hop (RFC 9110 §7.6.1)
    "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade",
    // per-connection, recomputed or set by whoever sends the message on
    "Expect", "Host", "Content-Length",
    // proxy headers: IMDS rejects forwarded requests, and the agent is not a proxy it should know about
    "Forwarded", "Via"};

// Names listed in a Connection header are hop-by-hop too.
bool named_by_connection(std::string_view name, std::string_view connection) {
  size_t pos = 0;
  while (pos < connection.size()) {
    size_t end = connection.find(',', pos);
    if (end == std::string_view::npos) end = connection.size();
    std::string_view token = connection.substr(pos, end - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (ascii::iequals(token, name)) return true;
    pos = end + 1;
  }
  return false;
}

bool relayable(std::string_view name, std::string_view connection, bool is_request) {
  for (auto never : kNeverRelayed) {
    if (ascii::iequals(name, never)) return false;
  }
  if (is_request && (ascii::istarts_with(name, "X-Forwarded-") || ascii::iequals(name, "X-Real-IP"))) return false;
  return !named_by_connection(name, connection);
}

template <class Fields>
void copy_fields(const Fields& from, Fields& to, bool is_request) {
  // Connection is a list field: its lines are one list (RFC 9110 §5.3), and a name on any of them is hop-by-hop.
  std::string connection;
  // Beast keeps the lines of one field next to each other.
  for (auto it = from.find(bhttp::field::connection); it != from.end() && it->name() == bhttp::field::connection;
       ++it) {
    connection.append(it->value()).push_back(',');
  }
  for (const auto& f : from) {
    if (relayable(f.name_string(), connection, is_request)) to.insert(f.name_string(), f.value());
  }
}

}  // namespace

std::variant<http::Request, ImdsError> prepare_passthrough(const http::Request& from_pod,
                                                           const PassthroughPolicy& policy) {
  if (!policy.enabled) return passthrough_blocked("passthrough_disabled");
  std::string_view target = from_pod.target();
  // The caller routes token paths and the rest of the identity category elsewhere; this is the second lock on
  // the same door. The identity category is refused whatever the allow-list says.
  PathKind kind = classify_path(target);
  if (kind == PathKind::kToken || kind == PathKind::kMalformedToken) return malformed_token_path();
  std::string_view path = path_of(target);
  if (!is_canonical_path(path)) return passthrough_blocked("non_canonical_path");
  if (kind == PathKind::kIdentityNotServed || !is_allowed(path, policy.allowed_prefixes)) {
    return passthrough_blocked("path_not_allowed");
  }
  if (policy.block_instance_metadata && is_instance_metadata(target)) {
    return passthrough_blocked("instance_metadata_blocked");
  }
  if (from_pod.method() != bhttp::verb::get && from_pod.method() != bhttp::verb::post) {
    return passthrough_blocked("method_not_allowed");
  }
  if (auto error = check_metadata_headers(from_pod)) return *std::move(error);

  http::Request upstream{from_pod.method(), target, 11};
  copy_fields(from_pod.base(), upstream.base(), /*is_request=*/true);
  upstream.body() = from_pod.body();
  upstream.prepare_payload();
  return upstream;
}

http::Response relay_response(const http::Response& upstream, const http::Request& from_pod) {
  http::Response out;
  out.version(from_pod.version());
  out.result(upstream.result_int());
  out.reason(upstream.reason());
  copy_fields(upstream.base(), out.base(), /*is_request=*/false);
  unsigned status = upstream.result_int();
  out.keep_alive(from_pod.keep_alive());
  // 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6); Beast would add `Content-Length: 0`.
  if (status < 200 || status == 204 || status == 304) return out;
  out.body() = upstream.body();
  out.prepare_payload();
  return out;
}

}  // namespace podid::agent::imds
