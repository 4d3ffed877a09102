// SPDX-License-Identifier: Apache-2.0
#include "podid/azure/token_response.h"

#include <boost/beast/http/field.hpp>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "podid/azure/retry_after.h"
#include "podid/error.h"

namespace podid::azure {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

constexpr size_t kMaxDetail = 300;
// The largest epoch time or lifetime read: 2096, or 126 years. system_clock counts nanoseconds in 64 bits
// (until 2262), and received_at plus any lifetime up to this stays within it; beyond, the conversions overflow.
constexpr int64_t kMaxSeconds = 4'000'000'000;

// A non-negative whole number given as a JSON number or as a decimal string (IMDS's form). Absent and ""
// are nullopt: MSAL Go chokes on "", but a proxy loses nothing by reading it as "not said".
Result<std::optional<int64_t>> read_whole_number(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>{};
  const json& v = *it;
  if (v.is_number_unsigned()) {
    auto n = v.get<uint64_t>();
    if (n > static_cast<uint64_t>(INT64_MAX / 2)) return malformed(std::string(key) + " is out of range");
    return std::optional<int64_t>{static_cast<int64_t>(n)};
  }
  if (v.is_number_integer()) {
    auto n = v.get<int64_t>();
    if (n < 0) return malformed(std::string(key) + " is negative");
    return std::optional<int64_t>{n};
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d > 1e15 || d != std::floor(d)) {
      return malformed(std::string(key) + " is not a whole number of seconds");
    }
    return std::optional<int64_t>{static_cast<int64_t>(d)};
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.empty()) return std::optional<int64_t>{};
    if (s.size() > 15 || s.find_first_not_of("0123456789") != std::string::npos) {
      return malformed(std::string(key) + " is not a whole number of seconds: \"" + s.substr(0, 40) + "\"");
    }
    return std::optional<int64_t>{std::stoll(s)};
  }
  return malformed(std::string(key) + " is neither a number nor a string");
}

// A time or lifetime in seconds, as read_whole_number reads it, at most kMaxSeconds.
Result<std::optional<int64_t>> read_count(const json& obj, const char* key) {
  auto n = read_whole_number(obj, key);
  if (n && *n && **n > kMaxSeconds) return malformed(std::string(key) + " is out of range: " + std::to_string(**n));
  return n;
}

std::string read_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

system_clock::time_point from_epoch(int64_t s) { return system_clock::time_point{seconds{s}}; }

std::string clip(std::string s) {
  if (auto nl = s.find_first_of("\r\n"); nl != std::string::npos) s.resize(nl);
  if (s.size() > kMaxDetail) s = s.substr(0, kMaxDetail) + "...";
  return s;
}

}  // namespace

const WallClock& system_wall_clock() {
  static const SystemWallClock clock;
  return clock;
}

Result<AccessToken> parse_token_answer(std::string_view body, const TokenAnswerContext& context) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return malformed("token answer is not JSON");
  // aad-pod-identity's NMI answered an array for multi-tenant service principals, and @azure/identity fails on
  // it: refusing it here keeps that shape from reaching a pod.
  if (!doc.is_object()) return malformed("token answer is not a JSON object");

  AccessToken token;
  token.access_token = read_string(doc, "access_token");
  if (token.access_token.empty()) return malformed("token answer has no access_token");
  if (auto type = read_string(doc, "token_type"); !type.empty()) token.token_type = type;
  token.resource = context.resource;
  token.client_id = read_string(doc, "client_id");
  if (token.client_id.empty()) token.client_id = context.client_id;
  token.issued_at = context.received_at;

  auto expires_on = read_count(doc, "expires_on");
  if (!expires_on) return expires_on.error();
  auto expires_in = read_count(doc, "expires_in");
  if (!expires_in) return expires_in.error();
  if (*expires_on) {
    token.expires_on = from_epoch(**expires_on);
  } else if (*expires_in) {
    token.expires_on =
        std::chrono::time_point_cast<system_clock::duration>(context.received_at) + seconds{**expires_in};
  } else {
    return malformed("token answer has neither expires_on nor expires_in");
  }
  // An already expired token would make every SDK ask again at once; saying so names the likely cause.
  if (token.expires_on <= context.received_at) {
    return malformed("token answer expired before it arrived (expires_on " +
               std::to_string(std::chrono::duration_cast<seconds>(token.expires_on.time_since_epoch()).count()) +
               "): is this node's clock wrong?");
  }

  auto not_before = read_count(doc, "not_before");
  if (!not_before) return not_before.error();
  token.not_before = *not_before ? from_epoch(**not_before) : context.received_at;

  auto ext = read_count(doc, "ext_expires_in");
  if (!ext) return ext.error();
  token.ext_expires_in = seconds{ext->value_or(0)};
  return token;
}

UpstreamFailure failure_from_response(const http::Response& response, system_clock::time_point now,
                                      std::string_view upstream) {
  namespace field = boost::beast::http;
  UpstreamFailure f;
  f.status = response.result_int();
  f.body = response.body();
  f.content_type = std::string(response[field::field::content_type]);
  if (auto ra = response.find(field::field::retry_after); ra != response.end()) {
    f.retry_after = parse_retry_after(ra->value(), now);
  }
  f.detail = std::string(upstream) + " answered " + std::to_string(f.status);
  json doc = json::parse(f.body, nullptr, false);
  if (doc.is_object()) {
    // Entra ID's envelope and IMDS's share these two fields; Entra's description starts with the AADSTS code.
    auto code = read_string(doc, "error");
    auto description = read_string(doc, "error_description");
    if (!code.empty()) f.detail += ": " + clip(code);
    if (!description.empty()) f.detail += ": " + clip(description);
  }
  return f;
}

UpstreamFailure transport_failure(const Error& error, std::string_view upstream) {
  UpstreamFailure f;
  f.detail = std::string(upstream) + " unreachable: " + error.message();
  return f;
}

UpstreamFailure unusable_answer(const Error& error, std::string_view upstream) {
  UpstreamFailure f;
  f.detail = std::string(upstream) + " answered 200 without a usable token: " + error.message();
  return f;
}

}  // namespace podid::azure
