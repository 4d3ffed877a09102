// SPDX-License-Identifier: Apache-2.0
#include "agent/imds/token_request.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "podid/ascii.h"

namespace podid::agent::imds {
namespace {

constexpr std::string_view kScopeSuffix = "/.default";

struct Parameter {
  std::string name;   // decoded, ASCII lower-cased
  std::string value;  // decoded
};

// application/x-www-form-urlencoded, leniently: a `%` that starts no valid escape is kept as written.
std::string form_decode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < raw.size() && ascii::hex_value(raw[i + 1]) >= 0 &&
               ascii::hex_value(raw[i + 2]) >= 0) {
      out += static_cast<char>(ascii::hex_value(raw[i + 1]) * 16 + ascii::hex_value(raw[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool has_control_characters(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): the value is echoed in the
// JSON answer and sent upstream, and both must be valid text.
bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += len;
  }
  return true;
}

// The api-versions IMDS serves the identity category under, as its documentation lists them (the category
// began at 2018-02-01; every SDK sends that one). IMDS refuses any other date, so podid does too: a version
// IMDS does not know never reaches an SDK that would then fail on a real node. A version Azure adds later
// is added here.
constexpr std::string_view kKnownApiVersions[] = {
    "2018-02-01", "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
    "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01",
    "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01",
    "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15", "2024-03-15",
    "2024-07-17", "2025-04-07",
};

bool is_valid_api_version(std::string_view v) {
  return std::find(std::begin(kKnownApiVersions), std::end(kKnownApiVersions), v) != std::end(kKnownApiVersions);
}

// Splits and decodes the query; the error is the first structural problem found.
std::optional<ImdsError> parse_query(std::string_view query, std::vector<Parameter>& out) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(pos, end - pos);
    pos = end + 1;
    if (pair.empty()) continue;  // `a=1&&b=2`, a trailing `&`
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (raw_name.empty()) continue;  // `=x`: names nothing
    if (out.size() == kMaxQueryParameters) return too_many_parameters();
    Parameter p{form_decode(raw_name), form_decode(raw_value)};
    if (p.name.size() > kMaxParameterBytes || p.value.size() > kMaxParameterBytes) return parameter_too_long();
    for (char& c : p.name) c = ascii::lower(c);
    out.push_back(std::move(p));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = i + 1; j < out.size(); ++j) {
      if (out[i].name == out[j].name) return duplicate_parameter();
    }
  }
  return std::nullopt;
}

const std::string* find(const std::vector<Parameter>& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

struct SelectorName {
  std::string_view name;
  SelectorKind kind;
};
constexpr std::array<SelectorName, 4> kSelectorNames{{
    {"client_id", SelectorKind::kClientId},
    {"object_id", SelectorKind::kObjectId},
    {"msi_res_id", SelectorKind::kResourceId},
    {"mi_res_id", SelectorKind::kResourceId},  // older alias: go-autorest adal, msal-node < 3
}};

}  // namespace

std::optional<ImdsError> check_metadata_headers(const http::Request& req) {
  if (req.find("X-Forwarded-For") != req.end()) return x_forwarded_for_present();
  // Exactly one: with two, which one a server reads is its own business, and one saying `true` proves nothing.
  if (req.count("Metadata") != 1 || req["Metadata"] != "true") return missing_metadata_header();
  return std::nullopt;
}

std::variant<TokenRequest, ImdsError> parse_token_request(const http::Request& req) {
  if (req.method() != boost::beast::http::verb::get) return method_not_allowed();
  if (auto error = check_metadata_headers(req)) return *std::move(error);

  std::string_view target = req.target();
  size_t question = target.find('?');
  std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  std::vector<Parameter> params;
  params.reserve(4);
  if (auto error = parse_query(query, params)) return *std::move(error);

  // Only the values the agent uses must be clean: they are echoed, logged and sent upstream.
  for (const auto& p : params) {
    bool used = p.name == "api-version" || p.name == "resource";
    for (const auto& s : kSelectorNames) used = used || p.name == s.name;
    if (used && (has_control_characters(p.value) || !is_utf8(p.value))) return invalid_parameter_encoding();
  }

  TokenRequest out;
  const std::string* api_version = find(params, "api-version");
  if (api_version == nullptr || !is_valid_api_version(*api_version)) return api_version_invalid();
  out.api_version = *api_version;

  const std::string* resource = find(params, "resource");
  if (resource == nullptr) return resource_missing();
  std::string_view r = *resource;
  // SDKs derive the resource from a scope by dropping "/.default"; a pod that passed the scope itself means
  // the same thing (`https://management.azure.com//.default` is `https://management.azure.com/`).
  if (r.ends_with(kScopeSuffix)) r.remove_suffix(kScopeSuffix.size());
  if (r.empty()) return resource_missing();
  out.resource = r;

  for (const auto& s : kSelectorNames) {
    const std::string* value = find(params, s.name);
    if (value == nullptr || value->empty()) continue;  // `client_id=` names nothing (as NMI and the emulator read it)
    if (out.selector.kind == SelectorKind::kNone) {
      out.selector = {s.kind, *value};
    } else if (out.selector.kind != s.kind || !ascii::iequals(out.selector.value, *value)) {
      // msi_res_id and mi_res_id naming the same identity is one selector; anything else is ambiguous.
      return conflicting_selectors();
    }
  }
  return out;
}

}  // namespace podid::agent::imds
